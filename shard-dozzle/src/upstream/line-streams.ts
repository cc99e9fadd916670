import { StringDecoder } from 'node:string_decoder';
import type { RawLine } from './backend.js';

type Stream = RawLine['stream'];

/** One output stream's partial line and UTF-8 state (a character may span frames). */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';

  constructor(readonly stream: Stream) {}

  /** Adds bytes; appends the lines they complete to `out`. */
  feed(bytes: Uint8Array, out: [Stream, string][]): void {
    const text = this.rest + this.decoder.write(bytes);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      out.push([this.stream, text.slice(start, end)]);
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  /** The last line when the stream ends without a newline. */
  flush(out: [Stream, string][]): void {
    const text = this.rest + this.decoder.end();
    if (text) out.push([this.stream, text]);
    this.rest = '';
  }
}

/**
 * Reads a Docker log stream into lines, pulling one chunk at a time so the
 * upstream is only read as fast as the caller consumes (a million-line log never
 * piles up in memory).
 *
 * Without a TTY the Engine multiplexes: each write is an 8-byte header
 * (stream type 0/1/2, three zero bytes, payload size as uint32 big-endian)
 * followed by the payload; a payload may span chunks and a line may span
 * payloads. With a TTY the stream is the raw terminal output. Like the Docker
 * CLI, a header with an unknown stream type means the stream is not
 * multiplexed after all, and the rest is read raw.
 */
export async function* dockerLogLines(body: AsyncIterable<Buffer>, tty: boolean): AsyncGenerator<[Stream, string][]> {
  const stdout = new LineSplitter(tty ? 'unknown' : 'stdout');
  const stderr = new LineSplitter('stderr');
  let raw = tty;
  let current = stdout;
  let frameLeft = 0;
  let carry: Buffer | undefined;
  for await (const chunk of body) {
    const lines: [Stream, string][] = [];
    if (raw) {
      stdout.feed(chunk, lines);
    } else {
      const data = carry ? Buffer.concat([carry, chunk]) : chunk;
      carry = undefined;
      let off = 0;
      while (off < data.length) {
        if (frameLeft > 0) {
          const end = Math.min(data.length, off + frameLeft);
          current.feed(data.subarray(off, end), lines);
          frameLeft -= end - off;
          off = end;
          continue;
        }
        if (data.length - off < 8) {
          carry = Buffer.from(data.subarray(off));
          break;
        }
        const type = data[off];
        if (type !== 0 && type !== 1 && type !== 2) {
          raw = true;
          stdout.feed(data.subarray(off), lines);
          break;
        }
        current = type === 2 ? stderr : stdout;
        frameLeft = data.readUInt32BE(off + 4);
        off += 8;
      }
    }
    if (lines.length) yield lines;
  }
  const last: [Stream, string][] = [];
  // Fewer than 8 bytes left: a cut header, or a short stream that was never multiplexed.
  if (carry && carry[0] !== 0 && carry[0] !== 1 && carry[0] !== 2) stdout.feed(carry, last);
  stdout.flush(last);
  stderr.flush(last);
  if (last.length) yield last;
}

/** Lines of a plain text stream (JSON lines, say), a batch per chunk read, pulled one chunk at a time. */
export async function* textLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const splitter = new LineSplitter('unknown');
  const lines: [Stream, string][] = [];
  for await (const chunk of body) {
    splitter.feed(chunk, lines);
    if (lines.length) yield lines.splice(0).map(([, text]) => text);
  }
  splitter.flush(lines);
  if (lines.length) yield lines.map(([, text]) => text);
}
