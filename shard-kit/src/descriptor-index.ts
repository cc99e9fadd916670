import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema, type DescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/**
 * Index over a buf-built FileDescriptorSet that keeps every file's original
 * serialized bytes, so reflection hands out exactly what buf produced,
 * comments (source info) and custom options included.
 */
export class DescriptorIndex {
  private readonly bytesByFile = new Map<string, Uint8Array>();
  private readonly protoByFile = new Map<string, FileDescriptorProto>();
  private readonly fileBySymbol = new Map<string, string>();
  /** "containing.Type" -> extension number -> file */
  private readonly extensions = new Map<string, Map<number, string>>();
  readonly services: string[] = [];

  constructor(descriptorSet: Uint8Array) {
    const reader = new BinaryReader(descriptorSet);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field !== 1) {
        reader.skip(wireType);
        continue;
      }
      const bytes = reader.bytes();
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      this.bytesByFile.set(file.name, bytes);
      this.protoByFile.set(file.name, file);
      this.indexFile(file);
    }
  }

  private indexFile(file: FileDescriptorProto): void {
    const pkg = file.package ? `${file.package}.` : '';
    const addMessage = (prefix: string, m: DescriptorProto): void => {
      const name = `${prefix}${m.name}`;
      this.fileBySymbol.set(name, file.name);
      for (const f of m.field) this.fileBySymbol.set(`${name}.${f.name}`, file.name);
      for (const e of m.enumType) this.fileBySymbol.set(`${name}.${e.name}`, file.name);
      for (const x of m.extension) this.addExtension(x.extendee, x.number, file.name, `${name}.${x.name}`);
      for (const nested of m.nestedType) addMessage(`${name}.`, nested);
    };
    for (const m of file.messageType) addMessage(pkg, m);
    for (const e of file.enumType) this.fileBySymbol.set(`${pkg}${e.name}`, file.name);
    for (const s of file.service) {
      const name = `${pkg}${s.name}`;
      this.fileBySymbol.set(name, file.name);
      this.services.push(name);
      for (const m of s.method) this.fileBySymbol.set(`${name}.${m.name}`, file.name);
    }
    for (const x of file.extension) this.addExtension(x.extendee, x.number, file.name, `${pkg}${x.name}`);
  }

  private addExtension(extendee: string, number: number, file: string, symbol: string): void {
    const type = extendee.replace(/^\./, '');
    let byNumber = this.extensions.get(type);
    if (!byNumber) this.extensions.set(type, (byNumber = new Map()));
    byNumber.set(number, file);
    this.fileBySymbol.set(symbol, file);
  }

  /** The file and all files it depends on, transitively, dependencies first. */
  fileWithDeps(fileName: string): Uint8Array[] | undefined {
    if (!this.bytesByFile.has(fileName)) return undefined;
    const seen = new Set<string>();
    const order: Uint8Array[] = [];
    const visit = (name: string): void => {
      if (seen.has(name)) return;
      seen.add(name);
      for (const dep of this.protoByFile.get(name)?.dependency ?? []) visit(dep);
      const bytes = this.bytesByFile.get(name);
      if (bytes) order.push(bytes);
    };
    visit(fileName);
    // The requested file first, as grpcurl and buf curl expect.
    const own = this.bytesByFile.get(fileName);
    return own ? [own, ...order.filter((b) => b !== own)] : order;
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.fileBySymbol.get(symbol.replace(/^\./, ''));
  }

  fileOfExtension(type: string, number: number): string | undefined {
    return this.extensions.get(type.replace(/^\./, ''))?.get(number);
  }

  extensionNumbers(type: string): number[] | undefined {
    const byNumber = this.extensions.get(type.replace(/^\./, ''));
    return byNumber ? [...byNumber.keys()].sort((a, b) => a - b) : undefined;
  }
}
