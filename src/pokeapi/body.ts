import * as zlib from 'node:zlib';
import { TransientFetchError } from './errors';
import { sample } from './fetch-policy';

/**
 * A response body from bytes to JSON, the steps shared by the event-loop path (client.ts) and the
 * parse thread (parse-thread.ts), so both fail with the same errors and messages.
 */

/** Decompresses on the calling thread: what the parse thread does, having nothing else to run. */
export function decodeSync(body: Buffer, encoding: string): Buffer {
  try {
    switch (encoding) {
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(body, { chunkSize: outputChunkSize(body) });
      case 'br':
        return zlib.brotliDecompressSync(body);
      case 'deflate':
        return zlib.inflateSync(body);
      default:
        return body;
    }
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
 * The gzip trailer's ISIZE (size mod 2^32), clamped to what one chunk may reasonably be: Node's
 * default 16 KB output chunk would take a 300 KB payload through ~20 rounds instead of one.
 */
export function outputChunkSize(gz: Buffer): number {
  if (gz.length < 4) return 64 * 1024;
  const isize = gz.readUInt32LE(gz.length - 4);
  return Math.min(Math.max(isize + 64, 64 * 1024), 8 * 1024 * 1024);
}
