import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Agent, request } from 'undici';
import { PokeApiError, TransientFetchError } from './errors';
import { classifyNetworkError, errorForStatus, sample } from './fetch-policy';
import { ParseGate } from './parse-gate';

const gunzip = promisify(zlib.gunzip);
const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliDecompress);
const inflate = promisify(zlib.inflate);

export interface PokeApiClientOptions {
  /** Base URL without a trailing slash, e.g. `https://pokeapi.co/api/v2`. */
  readonly baseUrl: string;
  /** Deadline for one request, connect to last body byte. */
  readonly timeoutMs: number;
  /**
   * Keep-alive connections per origin. Sized to the worker's concurrency: more would sit idle,
   * fewer would queue requests inside the client where no metric sees them.
   */
  readonly connections: number;
  /** Also return the payload gzip-compressed (for STORE_RAW). */
  readonly keepCompressed?: boolean;
}

export interface FetchedPokemon {
  /** The parsed JSON; not yet checked to be a Pokémon (normalizePokemon does that). */
  payload: unknown;
  url: string;
  /** Request start to parsed body. */
  fetchMs: number;
  /** Bytes on the wire (compressed when the API compressed). */
  wireBytes: number;
  /** The payload gzip-compressed, when `keepCompressed` was asked for. */
  gzipped?: Buffer;
}

/**
 * The one HTTP client for the PokeAPI: a keep-alive undici pool per origin, compression
 * negotiated, and every failure turned into a {@link PokeApiError} by the fetch policy.
 */
export class PokeApiClient {
  private readonly agent: Agent;
  /** Bounds how many bodies are decoded and parsed at once (memory; see ParseGate). */
  private readonly gate = new ParseGate(8);

  constructor(private readonly opts: PokeApiClientOptions) {
    this.agent = new Agent({
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      connectTimeout: opts.timeoutMs,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  pokemonUrl(id: number): string {
    return `${this.opts.baseUrl}/pokemon/${id}/`;
  }

  async fetchPokemon(id: number): Promise<FetchedPokemon> {
    const url = this.pokemonUrl(id);
    const started = performance.now();
    const body = await this.getJson(url, id);
    const fetchMs = performance.now() - started;
    const result: FetchedPokemon = { payload: body.payload, url, fetchMs, wireBytes: body.wire.length };
    if (this.opts.keepCompressed) result.gzipped = body.encoding === 'gzip' ? body.wire : await gzip(body.plain);
    return result;
  }

  /** Every id the API's paged list endpoint names, in its order. Used by the `all` spec. */
  async listAllIds(pageSize = 1000): Promise<number[]> {
    const ids: number[] = [];
    let next: string | null = `${this.opts.baseUrl}/pokemon/?offset=0&limit=${pageSize}`;
    for (let page = 0; next && page < 10_000; page++) {
      const list = (await this.getJson(next, 0)).payload as { next?: string | null; results?: { url?: string }[] };
      if (!Array.isArray(list.results)) throw new TransientFetchError('bad_body', 'list endpoint answered without results');
      for (const r of list.results) {
        const m = /\/pokemon\/(\d+)\/?$/.exec(r.url ?? '');
        if (m) ids.push(Number(m[1]));
      }
      next = list.next ?? null;
    }
    return ids;
  }

  /**
   * Whether the API answers at all, as one clear sentence when it does not. `start` asks this
   * before enqueueing, so an offline machine hears it once instead of through 151 failed jobs.
   */
  async probe(): Promise<{ ok: true } | { ok: false; problem: string }> {
    try {
      await this.fetchPokemon(1);
      return { ok: true };
    } catch (err) {
      if (err instanceof PokeApiError && !['timeout', 'network'].includes(err.reason)) return { ok: true };
      return { ok: false, problem: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * One GET: the body read whole, decompressed and parsed. Every failure becomes a PokeApiError:
   * transport ones here, statuses through the fetch policy, a truncated or non-JSON 200 as a
   * retryable bad body (a cut connection, a proxy's error page).
   */
  private async getJson(url: string, id: number): Promise<{ payload: unknown; encoding: string; wire: Buffer; plain: Buffer }> {
    let res: Awaited<ReturnType<typeof request>>;
    let wire: Buffer;
    try {
      res = await request(url, {
        dispatcher: this.agent,
        headers: { 'accept-encoding': 'gzip, br', accept: 'application/json', 'user-agent': 'pokequeue' },
        // undici's own timeouts are per phase; a body that trickles in one byte at a time would
        // pass them all, so the whole request also gets one deadline.
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      wire = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      throw classifyNetworkError(err);
    }
    const { statusCode: status, headers } = res;
    const encoding = String(headers['content-encoding'] ?? 'identity').toLowerCase();
    return this.gate.run(async () => {
      let plain: Buffer;
      try {
        plain = await decode(wire, encoding);
      } catch (err) {
        throw new TransientFetchError('bad_body', `body could not be decompressed (${encoding}): ${(err as Error).message}`);
      }
      const text = plain.toString('utf8');
      if (status !== 200) throw errorForStatus(id, status, headers, sample(text));
      try {
        return { payload: JSON.parse(text) as unknown, encoding, wire, plain };
      } catch {
        throw new TransientFetchError('bad_body', `body is not JSON (${String(headers['content-type'] ?? 'no content-type')}); starts: ${sample(text)}`);
      }
    });
  }
}

/**
 * Decompression runs on libuv's thread pool, off the event loop that the other jobs share. Node's
 * default output chunk is 16 KB, so a 300 KB payload would cross to the pool and back ~20 times;
 * gzip states the decompressed size in its last 4 bytes, so one chunk of that size does it in one.
 */
function decode(body: Buffer, encoding: string): Promise<Buffer> {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      if (body.length < 4096) return Promise.resolve(zlib.gunzipSync(body));
      return gunzip(body, { chunkSize: outputChunkSize(body) });
    case 'br':
      return brotli(body);
    case 'deflate':
      return inflate(body);
    default:
      return Promise.resolve(body);
  }
}

/** The gzip trailer's ISIZE (size mod 2^32), clamped to what one chunk may reasonably be. */
function outputChunkSize(gz: Buffer): number {
  const isize = gz.readUInt32LE(gz.length - 4);
  return Math.min(Math.max(isize + 64, 64 * 1024), 8 * 1024 * 1024);
}
