// Lint rule: protobuf wire encoding and decoding exist only in generated code
// (proto/gen, which the lint config ignores). Everything else uses the
// generated message types or @bufbuild/protobuf registries and descriptors,
// so no field number is written by hand.

const WIRE_MODULES = /^(@bufbuild\/protobuf\/wire|protobufjs(\/.*)?|@grpc\/proto-loader|google-protobuf(\/.*)?)$/;
const WIRE_CLASSES = /^(BinaryReader|BinaryWriter)$/;
const FIX = 'use the generated types in @homelab-mcp/proto (add the .proto to the buf module and run npm run generate) or @bufbuild/protobuf registries';

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'protobuf wire encoding and decoding only in generated code (proto/gen)' },
    schema: [],
  },
  create(context) {
    const checkSource = (node) => {
      const source = node.source;
      if (source && source.type === 'Literal' && typeof source.value === 'string' && WIRE_MODULES.test(source.value)) {
        context.report({ node: source, message: `${source.value} codes protobuf by hand; ${FIX}.` });
      }
    };
    // An import specifier without an alias is two identifiers at one place: report it once.
    const reported = new Set();
    const isKey = (node, name) => (node.type === 'Identifier' && node.name === name) || (node.type === 'Literal' && node.value === name);
    return {
      ImportDeclaration: checkSource,
      ExportNamedDeclaration: checkSource,
      ExportAllDeclaration: checkSource,
      ImportExpression: checkSource,
      Identifier(node) {
        if (!WIRE_CLASSES.test(node.name) || reported.has(node.range[0])) return;
        reported.add(node.range[0]);
        context.report({ node, message: `${node.name} writes protobuf field numbers by hand; ${FIX}.` });
      },
      MemberExpression(node) {
        if (isKey(node.property, '$unknown')) context.report({ node, message: `reading unknown fields means reading field numbers by hand; ${FIX}.` });
      },
    };
  },
};

export default { rules: { 'generated-wire-only': rule } };
