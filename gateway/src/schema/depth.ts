import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { joinPath, type Violation } from './validator.js';

/**
 * Message levels a request may nest (the request itself is level 1). The
 * decoders on both ends refuse more than 100: the shards' ts-proto decode
 * ("protobuf decode recursion limit exceeded", seen by the gateway as INTERNAL
 * "Error deserializing request") and protobuf-es in the gateway, as protobuf
 * C++ and Java do. Answers often carry the same value a level or two deeper,
 * so the gateway stays well below.
 */
export const MAX_MESSAGE_DEPTH = 64;

/**
 * Levels of JSON objects and arrays inside one google.protobuf.Struct, Value,
 * ListValue or Any field. Each object level is three messages on the wire
 * (Struct, its map entry, Value) and each array level two (ListValue, Value):
 * 20 levels of a top-level field come to 62 message levels.
 */
export const MAX_VALUE_DEPTH = 20;

const JSON_VALUED = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue', 'google.protobuf.Any']);
const LEAF_MESSAGES = /^google\.protobuf\.(Timestamp|Duration|FieldMask|Empty|(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String|Bytes)Value)$/;

/** A JSON node still to look at, with what it is in the protobuf message. */
interface Pending {
  json: unknown;
  parent: Pending | undefined;
  key: string | number;
  /** The message this JSON object is, or undefined inside a JSON-valued field. */
  message: DescMessage | undefined;
  /** Message level of this node (the request is 1). */
  level: number;
  /** Inside a JSON-valued field: that field's node and how many objects/arrays deep this one is. */
  valueField?: Pending;
  valueDepth: number;
}

function pathOf(node: Pending | undefined): string {
  const keys: (string | number)[] = [];
  for (let n = node; n?.parent; n = n.parent) keys.push(n.key);
  return keys.reverse().reduce<string>((at, k) => joinPath(at, k), '');
}

/** Where the value of a field sits (message level, or the JSON-valued field it starts) — undefined for leaves. */
function childOf(field: DescField, json: unknown, parent: Pending, key: string | number, extraLevel: number): Pending | undefined {
  const message = field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') || (field.fieldKind === 'map' && field.mapKind === 'message') ? field.message : undefined;
  if (!message || LEAF_MESSAGES.test(message.typeName) || json === null || typeof json !== 'object') return undefined;
  const level = parent.level + extraLevel;
  if (JSON_VALUED.has(message.typeName)) {
    const node: Pending = { json, parent, key, message: undefined, level, valueDepth: 1 };
    node.valueField = node;
    return node;
  }
  return Array.isArray(json) ? undefined : { json, parent, key, message, level, valueDepth: 0 };
}

/**
 * The first place where the arguments nest deeper than the gateway can
 * forward, or undefined. Walks the JSON iteratively along the request's
 * descriptor (arguments of any depth cannot exhaust the stack here), before
 * the schema validator and the protobuf conversion recurse into them.
 * Values of the wrong type are left to the validator.
 */
export function findTooDeep(desc: DescMessage, args: unknown): Violation | undefined {
  if (!args || typeof args !== 'object' || Array.isArray(args)) return undefined;
  const stack: Pending[] = [{ json: args, parent: undefined, key: '', message: desc, level: 1, valueDepth: 0 }];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.level > MAX_MESSAGE_DEPTH) {
      return {
        path: pathOf(node.valueField ?? node),
        message: `nests more than ${MAX_MESSAGE_DEPTH} levels of messages, more than the gateway forwards (protobuf decoders stop at 100); flatten it`,
      };
    }
    if (node.valueField) {
      if (node.valueDepth > MAX_VALUE_DEPTH) {
        return {
          path: pathOf(node.valueField),
          message: `nests objects and arrays more than ${MAX_VALUE_DEPTH} levels deep; a JSON value here may nest at most ${MAX_VALUE_DEPTH} levels (the gateway's limit: each level is up to three protobuf messages, and decoders stop at 100)`,
        };
      }
      // Struct: Struct, map entry, Value per object level; ListValue: ListValue, Value per array level.
      const step = Array.isArray(node.json) ? 2 : 3;
      for (const [key, value] of Object.entries(node.json as object)) {
        if (value !== null && typeof value === 'object') {
          stack.push({ json: value, parent: node, key: Array.isArray(node.json) ? Number(key) : key, message: undefined, level: node.level + step, valueField: node.valueField, valueDepth: node.valueDepth + 1 });
        }
      }
      continue;
    }
    const message = node.message!;
    for (const [key, value] of Object.entries(node.json as object)) {
      const field = message.fields.find((f) => f.name === key);
      if (!field || value === null || typeof value !== 'object') continue;
      const at: Pending = { json: value, parent: node, key, message: undefined, level: node.level, valueDepth: 0 };
      if (field.fieldKind === 'list' && Array.isArray(value)) {
        value.forEach((item, i) => {
          const child = childOf(field, item, at, i, 1);
          if (child) stack.push(child);
        });
      } else if (field.fieldKind === 'map' && !Array.isArray(value)) {
        // Every map entry is a message of its own on the wire.
        for (const [k, v] of Object.entries(value)) {
          const child = childOf(field, v, at, k, 2);
          if (child) stack.push(child);
        }
      } else if (field.fieldKind === 'message') {
        const child = childOf(field, value, node, key, 1);
        if (child) stack.push(child);
      }
    }
  }
  return undefined;
}
