import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { BadPayloadError, TooLargeError, TransientFetchError } from './errors';
import { sample } from './fetch-policy';

/**
 * A response body from bytes to JSON, the steps shared by the event-loop path (client.ts) and the
 * parse thread (parse-thread.ts), so both fail with the same errors and messages.
 *
 * Every step is bounded: the client stops reading at {@link BodyLimits.maxWireBytes}, and every
 * decoder here stops at {@link BodyLimits.maxBodyBytes} of output (zlib's `maxOutputLength`,
 * checked after each output chunk, so a 1 KB brotli body that would inflate to 1 GiB costs one
 * limit's worth of work and memory, not a gigabyte).
 */

/** How large a body may be: what the API is trusted with. Set from HTTP_MAX_WIRE_BYTES and HTTP_MAX_BODY_BYTES. */
export interface BodyLimits {
  /** Most bytes read from the connection, compressed or not; reading stops there. */
  readonly maxWireBytes: number;
  /** Most bytes a body may decompress to; decoding stops there. */
  readonly maxBodyBytes: number;
}

type Options = zlib.ZlibOptions & zlib.BrotliOptions;

/** One entry per Content-Encoding we ask for: the same codec, blocking or on libuv's pool. */
const CODECS: Record<string, { sync: (b: Buffer, o: Options) => Buffer; async: (b: Buffer, o: Options) => Promise<Buffer> }> = {
  gzip: { sync: zlib.gunzipSync, async: promisify(zlib.gunzip) },
  'x-gzip': { sync: zlib.gunzipSync, async: promisify(zlib.gunzip) },
  br: { sync: zlib.brotliDecompressSync, async: promisify(zlib.brotliDecompress) },
  deflate: { sync: zlib.inflateSync, async: promisify(zlib.inflate) },
};

/**
 * gzip and deflate bodies under this many bytes on the wire are decoded at once: the round trip
 * to libuv's pool would cost more than the work...
 */
const SYNC_DECODE_MAX_WIRE_BYTES = 4096;
/**
 * ...but only up to this many times their size, so the event loop never inflates more than
 * ~400 KB in one go (well under a millisecond). Real payloads inflate 20-45x; a small body that
 * inflates more is decoded again on the pool, with the full limit. Brotli always goes to the
 * pool: its decoder fills a window of up to 16 MB before it yields any output, so even a capped
 * 1.6 KB bomb held the event loop 8-35 ms.
 */
const SYNC_DECODE_MAX_RATIO = 100;

/** Decompresses on the calling thread: what the parse thread does, having nothing else to run. */
export function decodeSync(body: Buffer, encoding: string, maxBytes: number): Buffer {
  const codec = CODECS[encoding];
  if (!codec) return identity(body, maxBytes);
  try {
    return codec.sync(body, decodeOptions(body, encoding, maxBytes));
  } catch (err) {
    throw decodeError(encoding, err, maxBytes);
  }
}

/**
 * Decompresses a small gzip or deflate body at once, on the calling thread (see
 * SYNC_DECODE_MAX_WIRE_BYTES), or says it cannot (undefined): too large on the wire, brotli, or
 * inflating past SYNC_DECODE_MAX_RATIO. An identity body is returned as it is.
 */
export function decodeInline(body: Buffer, encoding: string, maxBytes: number): Buffer | undefined {
  const codec = CODECS[encoding];
  if (!codec) return identity(body, maxBytes);
  if (body.length >= SYNC_DECODE_MAX_WIRE_BYTES || encoding === 'br') return undefined;
  const bound = Math.min(maxBytes, Math.max(1024, body.length * SYNC_DECODE_MAX_RATIO));
  try {
    return codec.sync(body, { maxOutputLength: bound });
  } catch (err) {
    if (!isTooLarge(err) || bound === maxBytes) throw decodeError(encoding, err, maxBytes);
    return undefined;
  }
}

/** Decompresses: small gzip and deflate bodies at once ({@link decodeInline}), the rest on libuv's pool. */
export async function decode(body: Buffer, encoding: string, maxBytes: number): Promise<Buffer> {
  return decodeInline(body, encoding, maxBytes) ?? decodeOnPool(body, encoding, maxBytes);
}

/** Decompresses on libuv's thread pool, off the event loop that the other jobs share. */
export async function decodeOnPool(body: Buffer, encoding: string, maxBytes: number): Promise<Buffer> {
  const codec = CODECS[encoding];
  if (!codec) return identity(body, maxBytes);
  try {
    return await codec.async(body, decodeOptions(body, encoding, maxBytes));
  } catch (err) {
    throw decodeError(encoding, err, maxBytes);
  }
}

export function wireTooLarge(maxWireBytes: number, declared?: number): TooLargeError {
  const what = declared === undefined ? 'reading stopped there' : `it declared ${declared} bytes, so none was read`;
  return new TooLargeError(`response body is larger than HTTP_MAX_WIRE_BYTES (${maxWireBytes} bytes) on the wire; ${what}`);
}

export function undecodable(encoding: string, err: unknown): TransientFetchError {
  return new TransientFetchError('bad_body', `body could not be decompressed (${encoding}): ${(err as Error).message}`);
}

/**
 * Within the byte limit, JSON can still cost 20x its size once parsed: 4 MiB of `{},{},...` is
 * 1.4 M objects, 94 MB of heap and 0.3 s of CPU, against 1.4x for real payloads (Mew, the largest,
 * 665 KB: 0.9 MB). So a body of {@link STRUCTURE_SCAN_MIN_BYTES} or more may hold at most
 * {@link MAX_JSON_VALUES} values, counted as its `,`, `{` and `[` bytes (an upper bound: commas
 * inside strings count too). Mew has 26,865; the cap is ~5x that, about 12 MB of heap at worst.
 * Smaller bodies are not scanned, which keeps the scan (a third of JSON.parse's time) off every
 * real payload but Mew; a hostile one under the threshold costs at most ~11 MB of heap.
 */
export const STRUCTURE_SCAN_MIN_BYTES = 512 * 1024;
export const MAX_JSON_VALUES = 131_072;

/** A decompressed body to JSON: its structure checked when large (see STRUCTURE_SCAN_MIN_BYTES), then parsed. */
export function parseBody(plain: Buffer, contentType: string): unknown {
  if (plain.length >= STRUCTURE_SCAN_MIN_BYTES) {
    let values = 0;
    for (let i = 0; i < plain.length; i++) {
      const b = plain[i];
      if (b === 0x2c || b === 0x7b || b === 0x5b) values++;
    }
    if (values > MAX_JSON_VALUES) {
      throw new BadPayloadError(
        `payload holds about ${values} JSON values, more than the ${MAX_JSON_VALUES} allowed (the largest real payload has 26,865); not parsed`,
        sample(plain.subarray(0, 1024).toString('utf8')),
      );
    }
  }
  return parseJson(plain.toString('utf8'), contentType);
}

export function parseJson(text: string, contentType: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TransientFetchError('bad_body', `body is not JSON (${sample(contentType)}); starts: ${sample(text)}`);
  }
}

function identity(body: Buffer, maxBytes: number): Buffer {
  if (body.length > maxBytes) throw new TooLargeError(`response body is larger than HTTP_MAX_BODY_BYTES (${maxBytes} bytes)`);
  return body;
}

function isTooLarge(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE';
}

function decodeError(encoding: string, err: unknown, maxBytes: number): Error {
  if (isTooLarge(err)) {
    return new TooLargeError(`response body decompresses (${encoding}) to more than HTTP_MAX_BODY_BYTES (${maxBytes} bytes); decoding stopped there`);
  }
  return undecodable(encoding, err);
}

/**
 * The output bound, and one output chunk for the whole body where gzip says how large it is:
 * Node's default chunk is 16 KB, so a 300 KB payload would take ~20 rounds; gzip states the
 * decompressed size in its last 4 bytes (ISIZE, size mod 2^32). A hostile ISIZE buys at most a
 * chunk of the limit's size.
 */
function decodeOptions(gz: Buffer, encoding: string, maxBytes: number): Options {
  if (!encoding.endsWith('gzip') || gz.length < 4) return { maxOutputLength: maxBytes };
  const isize = gz.readUInt32LE(gz.length - 4);
  return { maxOutputLength: maxBytes, chunkSize: Math.min(Math.max(isize + 64, 64 * 1024), maxBytes + 64) };
}
