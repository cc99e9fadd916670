import { createFileRegistry, fromBinary, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { FileDescriptorResponse } from '@homelab-mcp/proto/ts/grpc/reflection/v1/reflection.js';

const trimDot = (name: string) => name.replace(/^\./, '');

/**
 * A buf-built FileDescriptorSet as reflection serves it: a protobuf-es
 * registry answers which file declares what, and every file goes out as the
 * bytes buf wrote, so comments (source info) and custom options reach the
 * client exactly as they are.
 */
export class DescriptorSet {
  readonly registry: FileRegistry;
  private readonly bytesByFile: Map<string, Buffer>;

  constructor(descriptorSet: Uint8Array) {
    const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
    // buf writes the files in dependency order, which is what the registry needs.
    this.registry = createFileRegistry(set);
    // A FileDescriptorSet and reflection's FileDescriptorResponse share their wire form: a list of
    // serialized files. Read as the latter, each file keeps the bytes buf wrote.
    const serialized = FileDescriptorResponse.decode(descriptorSet).fileDescriptorProto;
    this.bytesByFile = new Map(set.file.map((file, i) => [file.name, serialized[i]!]));
  }

  /** Fully-qualified names of every service in the set. */
  services(): string[] {
    return [...this.registry].filter((t) => t.kind === 'service').map((s) => s.typeName);
  }

  file(name: string): DescFile | undefined {
    return this.registry.getFile(name);
  }

  /** The file that declares a message, enum, service, extension, method or field. */
  fileOfSymbol(symbol: string): DescFile | undefined {
    const name = trimDot(symbol);
    const type = this.registry.get(name);
    if (type) return type.file;
    const dot = name.lastIndexOf('.');
    const parent = dot > 0 ? this.registry.get(name.slice(0, dot)) : undefined;
    const member = name.slice(dot + 1);
    if (parent?.kind === 'service') return parent.methods.some((m) => m.name === member) ? parent.file : undefined;
    if (parent?.kind === 'message') return parent.fields.some((f) => f.name === member) || parent.oneofs.some((o) => o.name === member) ? parent.file : undefined;
    return undefined;
  }

  fileOfExtension(extendee: string, number: number): DescFile | undefined {
    const message = this.registry.getMessage(trimDot(extendee));
    return message ? this.registry.getExtensionFor(message, number)?.file : undefined;
  }

  /** The numbers of every extension of a message type, ascending; undefined for an unknown type. */
  extensionNumbers(extendee: string): number[] | undefined {
    const message = this.registry.getMessage(trimDot(extendee));
    if (!message) return undefined;
    const numbers: number[] = [];
    for (const t of this.registry) if (t.kind === 'extension' && t.extendee.typeName === message.typeName) numbers.push(t.number);
    return numbers.sort((a, b) => a - b);
  }

  /** The file as buf wrote it, then every file it imports, transitively (grpcurl and buf curl expect the requested file first). */
  withDependencies(file: DescFile): Buffer[] {
    const files = new Set<DescFile>([file]);
    for (const f of files) for (const dep of f.dependencies) files.add(dep);
    return [...files].map((f) => this.bytesByFile.get(f.proto.name)).filter((b): b is Buffer => b !== undefined);
  }
}
