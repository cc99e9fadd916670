import type { DescEnum, DescEnumValue, DescField, DescFile, DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';

type Commented = DescMessage | DescField | DescEnum | DescEnumValue | DescService | DescMethod;

interface Comments {
  leading?: string;
  trailing?: string;
}

const cache = new WeakMap<DescFile, Map<string, Comments>>();

function commentsOf(file: DescFile): Map<string, Comments> {
  let map = cache.get(file);
  if (!map) {
    map = new Map();
    for (const loc of file.proto.sourceCodeInfo?.location ?? []) {
      if (loc.leadingComments || loc.trailingComments) {
        map.set(loc.path.join(','), { leading: loc.leadingComments, trailing: loc.trailingComments });
      }
    }
    cache.set(file, map);
  }
  return map;
}

// Paths into FileDescriptorProto (descriptor.proto field numbers): message_type 4,
// nested_type 3, field 2, enum_type 5 (file) / 4 (message), value 2, service 6, method 2.
function pathOf(desc: Commented): number[] {
  switch (desc.kind) {
    case 'message':
      return desc.parent
        ? [...pathOf(desc.parent), 3, desc.parent.proto.nestedType.indexOf(desc.proto)]
        : [4, desc.file.proto.messageType.indexOf(desc.proto)];
    case 'field':
      return [...pathOf(desc.parent), 2, desc.parent.proto.field.indexOf(desc.proto)];
    case 'enum':
      return desc.parent
        ? [...pathOf(desc.parent), 4, desc.parent.proto.enumType.indexOf(desc.proto)]
        : [5, desc.file.proto.enumType.indexOf(desc.proto)];
    case 'enum_value':
      return [...pathOf(desc.parent), 2, desc.parent.proto.value.indexOf(desc.proto)];
    case 'service':
      return [6, desc.file.proto.service.indexOf(desc.proto)];
    case 'rpc':
      return [...pathOf(desc.parent), 2, desc.parent.proto.method.indexOf(desc.proto)];
  }
}

function fileOf(desc: Commented): DescFile {
  switch (desc.kind) {
    case 'field':
    case 'rpc':
    case 'enum_value':
      return fileOf(desc.parent);
    default:
      return desc.file;
  }
}

/**
 * Cleans a raw comment: lines of a paragraph are joined, blank lines keep
 * paragraphs apart, list items keep their own line, and block-comment stars go.
 */
export function cleanComment(raw: string): string {
  const paragraphs: string[] = [];
  let current = '';
  for (const line of raw.split('\n').map((l) => l.trim().replace(/^\*(\s|$)/, '').trim())) {
    // buf's lint directives are for buf, not for the people and models reading the description.
    if (line.startsWith('buf:lint:ignore')) continue;
    if (!line) {
      if (current) paragraphs.push(current);
      current = '';
    } else if (/^([-*\u2022]|\d+[.)])\s/.test(line)) {
      current = current ? `${current}\n${line}` : line;
    } else {
      current = current ? `${current} ${line}` : line;
    }
  }
  if (current) paragraphs.push(current);
  return paragraphs.join('\n\n');
}

/** The comment of a descriptor from the file's source info (leading, else trailing), cleaned. */
export function commentOf(desc: Commented): string {
  const c = commentsOf(fileOf(desc)).get(pathOf(desc).join(','));
  return cleanComment(c?.leading || c?.trailing || '');
}
