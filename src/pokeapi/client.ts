import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Agent, request } from 'undici';
import type { PokemonRecord } from '../types';
import { type BodyLimits, decode, parseBody, wireTooLarge } from './body';
import { BadListError, NotFoundError, PokeApiError, TooLargeError } from './errors';
import { classifyNetworkError, errorForStatus, sample } from './fetch-policy';
import { IdListReader, type PokemonList } from './id-list';
import { normalizePokemon } from './normalize';
import { ParseGate } from './parse-gate';
import type { ParsePool } from './parse-pool';

const gzip = promisify(zlib.gzip);

export interface PokeApiClientOptions extends BodyLimits {
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
  /**
   * Threads that decompress, parse and normalize large bodies for {@link PokeApiClient.fetchRecord}
   * (PARSE_THREADS); 0 does it all on the event loop.
   */
  readonly parseThreads?: number;
}

/** Bodies smaller than this on the wire are parsed on the event loop: posting them to a thread would cost more than it saves. */
export const THREAD_MIN_WIRE_BYTES = 8 * 1024;

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

/** A fetched Pokémon already normalized: what a worker stores. */
export interface FetchedRecord {
  record: PokemonRecord;
  url: string;
  /** Request start to normalized record. */
  fetchMs: number;
  wireBytes: number;
  /** The payload gzip-compressed, when `keepCompressed` was asked for. */
  gzipped?: Buffer;
  /** Whether a parse thread did the decoding (false: the event loop did). */
  threaded: boolean;
}

/**
 * How much of an error answer (404, 5xx...) is read: its status decides what happens, the body
 * only gives the message a sample. Larger error bodies are cut off, not failed as too large.
 */
const ERROR_BODY_MAX_BYTES = 64 * 1024;

interface Download {
  wire: Buffer;
  /** Reading stopped before the end (an error answer over ERROR_BODY_MAX_BYTES). */
  cut: boolean;
  status: number;
  encoding: string;
  contentType: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * One request's deadline, as the signal undici is given. undici takes an EventEmitter with
 * `aborted` and `reason` as readily as an AbortSignal, and it costs a fraction of an
 * AbortController (an EventTarget, its listener bookkeeping: 1.3% of a profiled worker at a few
 * thousand small jobs a second).
 */
class Deadline extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(): void {
    this.aborted = true;
    this.reason = new DOMException('request deadline passed', 'TimeoutError');
    this.emit('abort');
  }
}

/**
 * The one HTTP client for the PokeAPI: a keep-alive undici pool per origin, compression
 * negotiated, and every failure turned into a {@link PokeApiError} by the fetch policy.
 */
export class PokeApiClient {
  private readonly agent: Agent;
  /** Bounds how many bodies are decoded and parsed at once (memory; see ParseGate). */
  private readonly gate = new ParseGate(8);
  private readonly pool: ParsePool | undefined;

  constructor(private readonly opts: PokeApiClientOptions) {
    if (opts.parseThreads) {
      // Loaded only when threads are asked for: short commands never pay for worker_threads.
      const { ParsePool: Pool } = require('./parse-pool') as typeof import('./parse-pool');
      this.pool = new Pool(opts.parseThreads);
    }
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
    const download = await this.download(url);
    const body = await this.parseHere(download, id);
    const fetchMs = performance.now() - started;
    const result: FetchedPokemon = { payload: body.payload, url, fetchMs, wireBytes: download.wire.length };
    if (this.opts.keepCompressed) result.gzipped = download.encoding === 'gzip' ? download.wire : await gzip(body.plain);
    return result;
  }

  /**
   * Fetches and normalizes one Pokémon: what a worker stores. Large bodies go to a parse thread
   * when the client has some, so the event loop stays free for the other jobs in flight; errors
   * are the same either way.
   */
  async fetchRecord(id: number): Promise<FetchedRecord> {
    const url = this.pokemonUrl(id);
    const started = performance.now();
    const download = await this.download(url);
    const { wire, encoding } = download;
    const threaded =
      this.pool !== undefined && download.status === 200 && wire.length >= THREAD_MIN_WIRE_BYTES && (encoding === 'gzip' || !this.opts.keepCompressed);
    let record: PokemonRecord;
    let plain: Buffer | undefined;
    if (threaded) {
      record = await this.pool!.run({ wire, encoding, contentType: download.contentType, id, url, maxBodyBytes: this.opts.maxBodyBytes });
    } else {
      const body = await this.parseHere(download, id);
      plain = body.plain;
      record = normalizePokemon(body.payload, id, url);
    }
    const result: FetchedRecord = { record, url, fetchMs: performance.now() - started, wireBytes: wire.length, threaded };
    if (this.opts.keepCompressed) result.gzipped = encoding === 'gzip' ? wire : await gzip(plain!);
    return result;
  }

  /**
   * Every id the API's paged list endpoint names, ascending, with the names it gives them: what
   * the `all` spec means, and where names in specs are looked up. The list is checked as it is
   * read (IdListReader): a BadListError names what the API sent.
   */
  async listAll(pageSize = 1000): Promise<PokemonList> {
    const reader = new IdListReader(this.opts.baseUrl);
    for (let url: string | null = reader.first(pageSize); url; ) {
      let page: unknown;
      try {
        page = (await this.parseHere(await this.download(url), 0)).payload;
      } catch (err) {
        // "no Pokémon with id 0" would make no sense here; an answer that will not change (a 404,
        // a page too large) is the list's fault like a bad entry. Transient failures stay as they are.
        if (err instanceof NotFoundError) throw new BadListError(`the list endpoint ${url} answered 404`);
        if (err instanceof PokeApiError && !err.retryable) throw new BadListError(`the list endpoint ${url}: ${err.message}`);
        throw err;
      }
      url = reader.read(page, url);
    }
    return reader.list();
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
    await Promise.all([this.agent.close(), this.pool?.close()]);
  }

  /**
   * One GET, the body streamed in up to HTTP_MAX_WIRE_BYTES: past it the connection is dropped and
   * the job fails as too large, so an endless or oversized body costs one limit's worth of memory.
   * Every other failure becomes a PokeApiError: transport ones here, statuses through the fetch
   * policy in parseHere, a truncated or non-JSON 200 as a retryable bad body (a cut connection, a
   * proxy's error page) in parseHere or the parse thread.
   */
  private async download(url: string): Promise<Download> {
    // undici's own timeouts are per phase; a body that trickles in one byte at a time would pass
    // them all, so the whole request also gets one deadline. A timer of our own, cleared when the
    // body is in: AbortSignal.timeout cannot be cleared, and at thousands of requests a second
    // its timers pile up for HTTP_TIMEOUT_MS each (they were 1.2% of a worker's CPU).
    const deadline = new Deadline();
    const timer = setTimeout(() => deadline.abort(), this.opts.timeoutMs);
    try {
      return await this.read(url, deadline);
    } finally {
      clearTimeout(timer);
    }
  }

  private async read(url: string, signal: Deadline): Promise<Download> {
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        dispatcher: this.agent,
        headers: { 'accept-encoding': 'gzip, br', accept: 'application/json', 'user-agent': 'pokequeue' },
        signal,
      });
    } catch (err) {
      throw classifyNetworkError(err);
    }
    const { statusCode: status, headers } = res;
    const limit = status === 200 ? this.opts.maxWireBytes : Math.min(this.opts.maxWireBytes, ERROR_BODY_MAX_BYTES);
    const declared = Number(headers['content-length']);
    if (status === 200 && declared > limit) {
      res.body.destroy();
      throw wireTooLarge(limit, declared);
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    let cut = false;
    // Events rather than `for await`: the async iterator costs a generator, an end-of-stream
    // watcher and a promise per chunk, a few µs of every job on small bodies. Destroying the body
    // early makes undici drop the connection.
    await new Promise<void>((resolve, reject) => {
      const body = res.body;
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= limit) {
          chunks.push(chunk);
          return;
        }
        body.destroy();
        if (status === 200) return reject(wireTooLarge(limit));
        cut = true;
        resolve();
      });
      body.once('end', resolve);
      body.once('error', (err) => reject(classifyNetworkError(err)));
    });
    return {
      wire: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
      cut,
      status,
      headers,
      encoding: String(headers['content-encoding'] ?? 'identity').toLowerCase(),
      contentType: String(headers['content-type'] ?? 'no content-type'),
    };
  }

  /** Decodes and parses on this thread (decompression on libuv's pool), a few bodies at a time. */
  private parseHere(d: Download, id: number): Promise<{ payload: unknown; plain: Buffer }> {
    return this.gate.run(async () => {
      if (d.status !== 200) {
        const shown = d.cut ? `(over ${ERROR_BODY_MAX_BYTES} bytes, not shown)` : await this.errorSample(d);
        throw errorForStatus(id, d.status, d.headers, shown);
      }
      const plain = await decode(d.wire, d.encoding, this.opts.maxBodyBytes);
      return { payload: parseBody(plain, d.contentType), plain };
    });
  }

  /** The start of an error answer; one that cannot be decoded is described rather than quoted. */
  private async errorSample(d: Download): Promise<string> {
    try {
      return sample((await decode(d.wire, d.encoding, ERROR_BODY_MAX_BYTES * 16)).toString('utf8'));
    } catch {
      return `(${d.wire.length} bytes of ${sample(d.encoding)} that could not be decoded)`;
    }
  }
}
