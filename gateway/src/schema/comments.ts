import type { DescEnum, DescEnumValue, DescField, DescFile, DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';

type Commented = DescMessage | DescField | DescEnum | DescEnumValue | DescService | DescMethod;

const cache = new WeakMap<DescFile, Map<string, string>>();

function commentsOf(file: DescFile): Map<string, string> {
  let map = cache.get(file);
  if (!map) {
    map = new Map();
    for (const loc of file.proto.sourceCodeInfo?.location ?? []) {
      if (loc.leadingComments) map.set(loc.path.join(','), loc.leadingComments);
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

/** The leading comment of a descriptor from the file's source info, as one clean paragraph. */
export function commentOf(desc: Commented): string {
  const raw = commentsOf(fileOf(desc)).get(pathOf(desc).join(',')) ?? '';
  return raw
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}
