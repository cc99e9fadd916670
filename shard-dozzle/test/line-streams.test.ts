import { describe, expect, it } from '@jest/globals';
import { dockerLogLines, textLines } from '../src/upstream/line-streams.js';

/** One multiplexed frame as the Engine writes it. */
function frame(type: 1 | 2, text: string | Buffer): Buffer {
  const payload = typeof text === 'string' ? Buffer.from(text) : text;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Cuts bytes into chunks of the given sizes (the rest in one), as a socket might deliver them. */
async function* chunks(bytes: Buffer, sizes: number[]): AsyncIterable<Buffer> {
  let off = 0;
  for (const n of sizes) {
    yield bytes.subarray(off, off + n);
    off += n;
  }
  if (off < bytes.length) yield bytes.subarray(off);
}

async function lines(body: AsyncIterable<Buffer>, tty: boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of dockerLogLines(body, tty)) for (const [stream, text] of batch) out.push(`${stream}:${text}`);
  return out;
}

describe('Docker log stream framing', () => {
  const stream = Buffer.concat([frame(1, 'first line\nsecond '), frame(1, 'half\r\n'), frame(2, 'oops\n'), frame(1, 'caf\u00e9 \u2713\n')]);
  const expected = ['stdout:first line', 'stdout:second half', 'stderr:oops', 'stdout:caf\u00e9 \u2713'];

  it('splits stdout and stderr frames into lines, joining a line written in two frames', async () => {
    expect(await lines(chunks(stream, []), false)).toEqual(expected);
  });

  it('gives the same lines however the socket cuts the bytes (headers, payloads and UTF-8 characters split)', async () => {
    for (let size = 1; size <= 9; size++) {
      const sizes = Array.from({ length: Math.ceil(stream.length / size) }, () => size);
      expect(await lines(chunks(stream, sizes), false)).toEqual(expected);
    }
  });

  it('keeps a last line that has no newline', async () => {
    expect(await lines(chunks(Buffer.concat([frame(1, 'a\nb')]), []), false)).toEqual(['stdout:a', 'stdout:b']);
  });

  it('reads a TTY stream raw', async () => {
    expect(await lines(chunks(Buffer.from('tty 1\r\ntty 2\n'), [3]), true)).toEqual(['unknown:tty 1', 'unknown:tty 2']);
  });

  it('reads a stream that turns out not to be multiplexed as raw text, like the Docker CLI', async () => {
    expect(await lines(chunks(Buffer.from('plain text\nmore\n'), [4]), false)).toEqual(['stdout:plain text', 'stdout:more']);
    expect(await lines(chunks(Buffer.from('hi\n'), []), false)).toEqual(['stdout:hi']);
  });

  it('pulls the next chunk only when the lines of the last one were taken', async () => {
    let pulled = 0;
    async function* counting(): AsyncIterable<Buffer> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield frame(1, `line ${i}\n`);
      }
    }
    const it = dockerLogLines(counting(), false);
    await it.next();
    await it.next();
    expect(pulled).toBe(2);
    await it.return(undefined);
  });
});

describe('text line streams (Dozzle JSON lines)', () => {
  it('joins lines cut between chunks and keeps the last one without a newline', async () => {
    const out: string[][] = [];
    for await (const batch of textLines(chunks(Buffer.from('{"a":1}\n{"b":\u00e9}\r\n{"c":3}'), [3, 9, 1]))) out.push(batch);
    expect(out.flat()).toEqual(['{"a":1}', '{"b":\u00e9}', '{"c":3}']);
  });
});
