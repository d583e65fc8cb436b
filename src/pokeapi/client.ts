import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';
import type { PokemonRecord } from '../types';
import { type BodyLimits, decode, decodeInline, decodeOnPool, parseBody, wireTooLarge } from './body';
import { BadListError, NotFoundError, PokeApiError, TooLargeError } from './errors';
import { classifyNetworkError, errorForStatus, sample } from './fetch-policy';
import { IdListReader, type PokemonList } from './id-list';
import { normalizePokemon } from './normalize';
import { ParseGate } from './parse-gate';
import type { ParsePool } from './parse-pool';

const gzip = promisify(zlib.gzip);

/** Response headers as undici gives them: lower-case names, repeated ones as arrays. */
type IncomingHttpHeaders = Record<string, string | string[] | undefined>;

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

/** The request headers, the same for every GET. */
const REQUEST_HEADERS = { 'accept-encoding': 'gzip, br', accept: 'application/json', 'user-agent': 'pokequeue' };

/**
 * One GET as an undici dispatch handler: the body's chunks gathered up to a byte limit, settled
 * once, by the end of the body, an error, the limit or the deadline. undici's `request()` wraps
 * the same dispatch in a Readable stream, a promise and its own handler, which cost a small job
 * ~15-25 µs of worker CPU out of ~50 (`node bench/tools/http-client-cost.js`, 20,000 loopback
 * GETs at concurrency 100: 44-65 µs per request through `request()` and body events, 31-37 µs
 * through this); the bytes are all we want, so no stream is made.
 */
class BodyDownload implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private status = 0;
  private limit = 0;
  private headers: IncomingHttpHeaders = {};
  private settled = false;
  /**
   * undici's own timeouts are per phase; a body that trickles in one byte at a time would pass
   * them all, so the whole request also gets one deadline, cleared when it settles (a timer that
   * is not cleared would live on for HTTP_TIMEOUT_MS after each request).
   */
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly maxWireBytes: number,
    timeoutMs: number,
    private readonly resolve: (d: Download) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.timer = setTimeout(() => this.fail(classifyNetworkError(new DOMException('request deadline passed', 'TimeoutError'))), timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The deadline passed while the request waited for a connection: it is not sent.
    if (this.settled) controller.abort(new Error('request abandoned'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // an informational answer (100 Continue); the real one follows
    this.status = statusCode;
    this.headers = headers;
    this.limit = statusCode === 200 ? this.maxWireBytes : Math.min(this.maxWireBytes, ERROR_BODY_MAX_BYTES);
    const declared = Number(headers['content-length']);
    if (statusCode === 200 && declared > this.limit) this.fail(wireTooLarge(this.limit, declared));
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.bytes += chunk.length;
    if (this.bytes <= this.limit) {
      this.chunks.push(chunk);
      return;
    }
    // Over the limit: a 200 fails as too large; an error answer keeps its start for the message.
    if (this.status === 200) this.fail(wireTooLarge(this.limit));
    else this.done(true);
  }

  onResponseEnd(): void {
    this.done(false);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(classifyNetworkError(err));
  }

  private done(cut: boolean): void {
    if (this.settled) return;
    this.settle();
    // Reading stopped early: aborting makes undici drop the connection rather than read the rest.
    if (cut) this.controller?.abort(new Error('response body cut off'));
    const { chunks, headers } = this;
    this.resolve({
      wire: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
      cut,
      status: this.status,
      headers,
      encoding: String(headers['content-encoding'] ?? 'identity').toLowerCase(),
      contentType: String(headers['content-type'] ?? 'no content-type'),
    });
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settle();
    this.controller?.abort(err);
    this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
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
  /** The base URL's origin (`https://pokeapi.co`). */
  private readonly origin: string;

  constructor(private readonly opts: PokeApiClientOptions) {
    this.origin = new URL(opts.baseUrl).origin;
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
   * One GET, the body read up to HTTP_MAX_WIRE_BYTES: past it the connection is dropped and the
   * job fails as too large, so an endless or oversized body costs one limit's worth of memory.
   * Every other failure becomes a PokeApiError: transport ones here, statuses through the fetch
   * policy in parseHere, a truncated or non-JSON 200 as a retryable bad body (a cut connection, a
   * proxy's error page) in parseHere or the parse thread.
   */
  private download(url: string): Promise<Download> {
    // Every Pokémon URL starts with the base URL's origin: no URL is parsed per request.
    const sameOrigin = url.startsWith(this.origin) && url.charCodeAt(this.origin.length) === 0x2f;
    const { origin, path } = sameOrigin ? { origin: this.origin, path: url.slice(this.origin.length) } : splitUrl(url);
    return new Promise<Download>((resolve, reject) => {
      const handler = new BodyDownload(this.opts.maxWireBytes, this.opts.timeoutMs, resolve, reject);
      this.agent.dispatch({ origin, path, method: 'GET', headers: REQUEST_HEADERS }, handler);
    });
  }

  /**
   * Decodes and parses on this thread (decompression on libuv's pool), a few bodies at a time. A
   * small body is decoded and parsed at once, outside the gate: done in one synchronous step, it
   * never holds memory while others are being parsed, and it skips the gate's promises.
   */
  private parseHere(d: Download, id: number): Promise<{ payload: unknown; plain: Buffer }> {
    if (d.status === 200) {
      try {
        const plain = decodeInline(d.wire, d.encoding, this.opts.maxBodyBytes);
        if (plain !== undefined) return Promise.resolve({ payload: parseBody(plain, d.contentType), plain });
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.gate.run(async () => {
      if (d.status !== 200) {
        const shown = d.cut ? `(over ${ERROR_BODY_MAX_BYTES} bytes, not shown)` : await this.errorSample(d);
        throw errorForStatus(id, d.status, d.headers, shown);
      }
      // Not small enough to decode at once (tried above): on the pool.
      const plain = await decodeOnPool(d.wire, d.encoding, this.opts.maxBodyBytes);
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

function splitUrl(url: string): { origin: string; path: string } {
  const u = new URL(url);
  return { origin: u.origin, path: `${u.pathname}${u.search}` };
}
