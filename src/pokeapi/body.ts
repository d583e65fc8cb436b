import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { TransientFetchError } from './errors';
import { sample } from './fetch-policy';

/**
 * A response body from bytes to JSON, the steps shared by the event-loop path (client.ts) and the
 * parse thread (parse-thread.ts), so both fail with the same errors and messages.
 */

type Options = zlib.ZlibOptions & zlib.BrotliOptions;

/** One entry per Content-Encoding we ask for: the same codec, blocking or on libuv's pool. */
const CODECS: Record<string, { sync: (b: Buffer, o: Options) => Buffer; async: (b: Buffer, o: Options) => Promise<Buffer> }> = {
  gzip: { sync: zlib.gunzipSync, async: promisify(zlib.gunzip) },
  'x-gzip': { sync: zlib.gunzipSync, async: promisify(zlib.gunzip) },
  br: { sync: zlib.brotliDecompressSync, async: promisify(zlib.brotliDecompress) },
  deflate: { sync: zlib.inflateSync, async: promisify(zlib.inflate) },
};

/** Decompresses on the calling thread: what the parse thread does, having nothing else to run. */
export function decodeSync(body: Buffer, encoding: string): Buffer {
  const codec = CODECS[encoding];
  if (!codec) return body;
  try {
    return codec.sync(body, chunkOptions(body, encoding));
  } catch (err) {
    throw undecodable(encoding, err);
  }
}

/**
 * Decompresses on libuv's thread pool, off the event loop that the other jobs share; bodies
 * under 4 KB are done at once, as the round trip to the pool would cost more than the work.
 */
export async function decode(body: Buffer, encoding: string): Promise<Buffer> {
  const codec = CODECS[encoding];
  if (!codec) return body;
  try {
    return body.length < 4096 ? codec.sync(body, {}) : await codec.async(body, chunkOptions(body, encoding));
  } catch (err) {
    throw undecodable(encoding, err);
  }
}

export function undecodable(encoding: string, err: unknown): TransientFetchError {
  return new TransientFetchError('bad_body', `body could not be decompressed (${encoding}): ${(err as Error).message}`);
}

export function parseJson(text: string, contentType: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TransientFetchError('bad_body', `body is not JSON (${contentType}); starts: ${sample(text)}`);
  }
}

/**
 * Node's default output chunk is 16 KB, so a 300 KB payload would take ~20 rounds; gzip states
 * the decompressed size in its last 4 bytes (ISIZE, size mod 2^32), so one chunk of that size,
 * clamped to what one chunk may reasonably be, does it in one.
 */
function chunkOptions(gz: Buffer, encoding: string): Options {
  if (!encoding.endsWith('gzip') || gz.length < 4) return {};
  const isize = gz.readUInt32LE(gz.length - 4);
  return { chunkSize: Math.min(Math.max(isize + 64, 64 * 1024), 8 * 1024 * 1024) };
}
