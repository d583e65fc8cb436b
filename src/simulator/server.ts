/**
 * The simulated PokeAPI: an HTTP server (node:http only) that answers `/api/v2/pokemon/...` like
 * the real API, with synthetic payloads (or real ones from a directory), configurable latency and
 * the faults of {@link FaultPlan}, and counters that tests in other processes read over HTTP.
 *
 * Routes:
 * - `GET /api/v2/pokemon/{id|name}/` (slash optional): the payload, 200 JSON, gzip if asked;
 *   404 `Not Found` for an unknown id or name, 400 for a malformed one.
 * - `GET /api/v2/pokemon/?offset=&limit=` (also without the slash): the paged list, id order.
 * - `GET /__sim/stats`, `POST /__sim/reset`: the counters; never faulted, never delayed.
 */
import { promises as fs, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import {
  FaultPlan,
  InvalidSimulatorOptionError,
  resolveFaultOptions,
  type FaultKind,
  type FaultOptions,
  type ResolvedFaultOptions,
} from './faults';
import { idForName, knownIds, nameForId, syntheticPokemon } from './payload';

export { InvalidSimulatorOptionError, FAULT_KINDS, type FaultKind, type FaultOptions } from './faults';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export interface SimulatorOptions extends FaultOptions {
  /**
   * Interface to listen on.
   * @defaultValue '127.0.0.1'
   */
  readonly host?: string;
  /**
   * Port to listen on; 0 picks a free one (read it from {@link RunningSimulator.port}).
   * @defaultValue 0
   */
  readonly port?: number;
  /**
   * Delay before every API answer, in milliseconds (the real API takes ~50–300 ms).
   * @defaultValue 0
   */
  readonly latencyMs?: number;
  /**
   * Extra delay drawn uniformly from 0..jitterMs for each API answer.
   * @defaultValue 0
   */
  readonly jitterMs?: number;
  /**
   * Serve real `{id}.json.gz` payloads from this directory instead of synthetic ones; ids
   * without a file are 404. The files are sent as they are, URLs pointing at the real API.
   * @defaultValue undefined (synthetic payloads)
   */
  readonly dataDir?: string;
}

/** Counters since start or the last reset, as `GET /__sim/stats` returns them. */
export interface SimulatorStats {
  /** API requests (everything except `/__sim/*`), including faulted ones. */
  requests: number;
  /** Completed responses by status code; hung and reset requests have none. */
  byStatus: Record<string, number>;
  /** `/pokemon/{id|name}` requests by the id they resolved to. */
  byId: Record<string, number>;
  /** Faults dealt, by kind. */
  faults: Partial<Record<FaultKind, number>>;
  /** Most API requests open at once. */
  maxInFlight: number;
  /** API requests open now (a reset does not zero it: they are still open). */
  inFlight: number;
  /** When counting began (start or last reset), ms since the epoch. */
  startedAt: number;
  /** Arrival time of each API request, ms since the epoch, oldest first, the last 100 000. */
  requestTimes: number[];
}

export interface RunningSimulator {
  /** Base API URL, e.g. `http://127.0.0.1:3100/api/v2` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  stats(): SimulatorStats;
  resetStats(): void;
  /** Stops listening and ends every connection, hung requests and idle keep-alives included. */
  close(): Promise<void>;
}

type ResolvedSimulatorOptions = ResolvedFaultOptions & {
  readonly host: string;
  readonly port: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly dataDir: string | undefined;
};

/** Checks every option and fills in defaults; throws {@link InvalidSimulatorOptionError}. */
export function resolveSimulatorOptions(opts: SimulatorOptions = {}): ResolvedSimulatorOptions {
  const host = opts.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidSimulatorOptionError('host', 'must be a non-empty string');
  }
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidSimulatorOptionError('port', `must be an integer from 0 to 65535 (got ${String(port)})`);
  }
  const latencyMs = nonNegative('latencyMs', opts.latencyMs ?? 0);
  const jitterMs = nonNegative('jitterMs', opts.jitterMs ?? 0);
  const dataDir = opts.dataDir;
  if (dataDir !== undefined) {
    let isDirectory = false;
    try {
      isDirectory = statSync(dataDir).isDirectory();
    } catch {
      // Reported below: a missing path and a file are the same mistake to the user.
    }
    if (!isDirectory) throw new InvalidSimulatorOptionError('dataDir', `${dataDir} is not a directory`);
  }
  return { ...resolveFaultOptions(opts), host, port, latencyMs, jitterMs, dataDir };
}

function nonNegative(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidSimulatorOptionError(option, `must be a non-negative number (got ${String(value)})`);
  }
  return value;
}

/** Starts the simulator; resolves once it listens. Rejects with the listen error (EADDRINUSE…). */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const options = resolveSimulatorOptions(opts);
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}/api/v2`;
  const source: PayloadSource = options.dataDir
    ? await DirectorySource.open(options.dataDir)
    : new SyntheticSource(url);
  const stats = new StatsRecorder();
  const timers = new Set<NodeJS.Timeout>();
  const simulator = new Simulator(options, url, source, new FaultPlan(options), stats, timers);
  server.on('request', (req, res) => void simulator.handle(req, res));

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        // Pending delays and trickles would write to sockets about to be destroyed.
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        // close() alone waits for hung requests and keep-alive sockets, which may be forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Where payloads come from
// ---------------------------------------------------------------------------------------------

interface PayloadSource {
  /** Every id served, in list order. */
  ids(): Promise<number[]>;
  has(id: number): boolean;
  idForName(name: string): Promise<number | undefined>;
  nameForId(id: number): Promise<string | undefined>;
  /** The minified JSON, gzipped (cached: gzip is ~30 times smaller, and cheap to undo). */
  gzipped(id: number): Promise<Buffer>;
}

/** Synthetic payloads, generated on first request and kept gzipped (~6 MB for all ids). */
class SyntheticSource implements PayloadSource {
  private readonly cache = new Map<number, Promise<Buffer>>();
  private readonly known = new Set(knownIds());

  constructor(private readonly apiBaseUrl: string) {}

  async ids(): Promise<number[]> {
    return knownIds();
  }

  has(id: number): boolean {
    return this.known.has(id);
  }

  async idForName(name: string): Promise<number | undefined> {
    return idForName(name);
  }

  async nameForId(id: number): Promise<string | undefined> {
    return nameForId(id);
  }

  gzipped(id: number): Promise<Buffer> {
    let body = this.cache.get(id);
    if (!body) {
      body = gzip(Buffer.from(JSON.stringify(syntheticPokemon(id, this.apiBaseUrl))));
      this.cache.set(id, body);
    }
    return body;
  }
}

/** Real payloads from `{id}.json.gz` files; names are read from the files when first needed. */
class DirectorySource implements PayloadSource {
  private readonly cache = new Map<number, Promise<Buffer>>();
  private names: Promise<{ byName: Map<string, number>; byId: Map<number, string> }> | undefined;

  private readonly idSet: Set<number>;

  private constructor(
    private readonly dir: string,
    private readonly idList: number[],
  ) {
    this.idSet = new Set(idList);
  }

  static async open(dir: string): Promise<DirectorySource> {
    const ids = (await fs.readdir(dir))
      .map((file) => /^(\d+)\.json\.gz$/.exec(file))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => Number(match[1]))
      .filter((id) => id > 0)
      .sort((a, b) => a - b);
    return new DirectorySource(dir, ids);
  }

  async ids(): Promise<number[]> {
    return this.idList;
  }

  has(id: number): boolean {
    return this.idSet.has(id);
  }

  async idForName(name: string): Promise<number | undefined> {
    return (await this.nameIndex()).byName.get(name);
  }

  async nameForId(id: number): Promise<string | undefined> {
    return (await this.nameIndex()).byId.get(id);
  }

  gzipped(id: number): Promise<Buffer> {
    let body = this.cache.get(id);
    if (!body) {
      body = fs.readFile(path.join(this.dir, `${id}.json.gz`));
      this.cache.set(id, body);
    }
    return body;
  }

  private nameIndex(): Promise<{ byName: Map<string, number>; byId: Map<number, string> }> {
    // Parsing every file takes a second or two, so only lookups by name and the list pay for it.
    this.names ??= (async () => {
      const byName = new Map<string, number>();
      const byId = new Map<number, string>();
      for (const id of this.idList) {
        const { name } = JSON.parse((await gunzip(await this.gzipped(id))).toString('utf8')) as { name: string };
        byName.set(name, id);
        byId.set(id, name);
      }
      return { byName, byId };
    })();
    return this.names;
  }
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

const MAX_REQUEST_TIMES = 100_000;

class StatsRecorder {
  private requests = 0;
  private byStatus: Record<string, number> = {};
  private byId: Record<string, number> = {};
  private faults: Partial<Record<FaultKind, number>> = {};
  private inFlight = 0;
  private maxInFlight = 0;
  private startedAt = Date.now();
  /** Ring buffer: a bench sends far more than 100 000 requests, and shift() would be O(n). */
  private times: number[] = [];
  private timesHead = 0;

  arrived(): void {
    this.requests++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const now = Date.now();
    if (this.times.length < MAX_REQUEST_TIMES) this.times.push(now);
    else {
      this.times[this.timesHead] = now;
      this.timesHead = (this.timesHead + 1) % MAX_REQUEST_TIMES;
    }
  }

  left(): void {
    this.inFlight--;
  }

  answered(status: number): void {
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
  }

  askedFor(id: number): void {
    this.byId[id] = (this.byId[id] ?? 0) + 1;
  }

  faulted(kind: FaultKind): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  reset(): void {
    this.requests = 0;
    this.byStatus = {};
    this.byId = {};
    this.faults = {};
    this.maxInFlight = this.inFlight;
    this.startedAt = Date.now();
    this.times = [];
    this.timesHead = 0;
  }

  snapshot(): SimulatorStats {
    return {
      requests: this.requests,
      byStatus: { ...this.byStatus },
      byId: { ...this.byId },
      faults: { ...this.faults },
      maxInFlight: this.maxInFlight,
      inFlight: this.inFlight,
      startedAt: this.startedAt,
      requestTimes: [...this.times.slice(this.timesHead), ...this.times.slice(0, this.timesHead)],
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

const POKEMON_PATH = /^\/api\/v2\/pokemon(?:\/([^/]*))?\/?$/;
const ID_SEGMENT = /^\d+$/;
const NAME_SEGMENT = /^[a-z][a-z0-9-]*$/;

const PAYLOAD_CACHE_CONTROL = 'public, max-age=86400, s-maxage=86400';
/** The live API caches its 404s for five days. */
const NOT_FOUND_CACHE_CONTROL = 'public, max-age=432000, s-maxage=432000';
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
/** What a CDN shows while it checks the client: valid HTML, useless as JSON. */
const HTML_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Just a moment...</title></head>' +
  '<body><h1>Checking your browser before accessing the API.</h1><p>This process is automatic.</p></body></html>';
/** Chunks a slow body is cut into; enough that a client sees it trickle. */
const SLOW_CHUNKS = 20;

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

class Simulator {
  constructor(
    private readonly options: ResolvedSimulatorOptions,
    private readonly url: string,
    private readonly source: PayloadSource,
    private readonly faults: FaultPlan,
    private readonly stats: StatsRecorder,
    private readonly timers: Set<NodeJS.Timeout>,
  ) {}

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const target = parseTarget(req.url);
      if (target?.pathname.startsWith('/__sim/')) return this.control(req, res, target.pathname);

      this.stats.arrived();
      res.once('close', () => this.stats.left());
      res.once('finish', () => this.stats.answered(res.statusCode));

      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const reply = text(405, 'Method Not Allowed');
        reply.headers.allow = 'GET, HEAD';
        return send(res, reply);
      }
      const match = target ? POKEMON_PATH.exec(target.pathname) : null;
      if (!target || !match) return this.after(res, () => text(404, 'Not Found', NOT_FOUND_CACHE_CONTROL));
      const segment = match[1];
      if (segment === undefined || segment === '') return this.list(req, res, target.searchParams);
      return await this.pokemon(req, res, decodeSegment(segment));
    } catch (err) {
      if (!res.headersSent) send(res, text(500, 'simulator error'));
      else res.destroy(err as Error);
    }
  }

  private async pokemon(req: http.IncomingMessage, res: http.ServerResponse, segment: string): Promise<void> {
    let id: number | undefined;
    if (ID_SEGMENT.test(segment)) id = Number(segment);
    else if (NAME_SEGMENT.test(segment)) id = await this.source.idForName(segment);
    else return this.after(res, () => text(400, 'Bad Request'));

    const known = id !== undefined && this.source.has(id);
    if (known) this.stats.askedFor(id!);
    const fault = this.faults.next(known ? String(id) : segment, known ? id : undefined);
    if (fault) this.stats.faulted(fault);
    if (fault === 'hang') return; // never answered; close() or the client ends it

    const gzipOk = acceptsGzip(req);
    await this.delay();
    if (res.destroyed) return;

    let reply: Reply;
    if (fault === '500') reply = text(500, 'Internal Server Error');
    else if (fault === '429') reply = this.rateLimited();
    else if (fault === 'html') reply = { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: Buffer.from(HTML_PAGE) };
    else if (fault === 'wrong-id') reply = await this.payload(await this.otherId(id), gzipOk);
    else if (!known) reply = text(404, 'Not Found', NOT_FOUND_CACHE_CONTROL);
    else reply = await this.payload(id!, gzipOk);

    if (fault === 'truncate') reply = await truncate(reply);
    if (fault === 'reset') return sendThenReset(res, reply);
    if (fault === 'slow') return this.sendSlowly(res, reply);
    send(res, reply);
  }

  private async list(req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
    const offset = parseQueryInt(query.get('offset'), 0, 0);
    const limit = parseQueryInt(query.get('limit'), 20, 1);
    if (offset === undefined || limit === undefined) return this.after(res, () => text(400, 'Bad Request'));

    const ids = await this.source.ids();
    const page = ids.slice(offset, offset + limit);
    const results = await Promise.all(
      page.map(async (id) => ({ name: (await this.source.nameForId(id)) ?? String(id), url: `${this.url}/pokemon/${id}/` })),
    );
    const pageUrl = (at: number) => `${this.url}/pokemon/?offset=${at}&limit=${limit}`;
    const body = JSON.stringify({
      count: ids.length,
      next: offset + limit < ids.length ? pageUrl(offset + limit) : null,
      previous: offset > 0 ? pageUrl(Math.max(0, Math.min(offset, ids.length) - limit)) : null,
      results,
    });
    const reply = await encode(Buffer.from(body), acceptsGzip(req));
    await this.after(res, () => reply);
  }

  private async payload(id: number, gzipOk: boolean): Promise<Reply> {
    const gzipped = await this.source.gzipped(id);
    return { status: 200, headers: jsonHeaders(gzipOk), body: gzipOk ? gzipped : await gunzip(gzipped) };
  }

  /** The id whose payload a wrong-id fault sends: the next one in list order. */
  private async otherId(id: number | undefined): Promise<number> {
    const ids = await this.source.ids();
    const at = id === undefined ? -1 : ids.indexOf(id);
    return ids[(at + 1) % ids.length];
  }

  private rateLimited(): Reply {
    const reply = text(429, 'Too Many Requests');
    if (this.options.retryAfterSeconds !== null) reply.headers['retry-after'] = String(this.options.retryAfterSeconds);
    return reply;
  }

  private async after(res: http.ServerResponse, reply: () => Reply): Promise<void> {
    await this.delay();
    if (!res.destroyed) send(res, reply());
  }

  private delay(): Promise<void> {
    const { latencyMs, jitterMs } = this.options;
    const ms = latencyMs + (jitterMs > 0 ? Math.random() * jitterMs : 0);
    return ms > 0 ? this.sleep(ms) : Promise.resolve();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private async sendSlowly(res: http.ServerResponse, reply: Reply): Promise<void> {
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
    const chunks = Math.max(1, Math.min(SLOW_CHUNKS, reply.body.length));
    const size = Math.ceil(reply.body.length / chunks);
    const pause = chunks > 1 ? this.options.slowBodyMs / (chunks - 1) : 0;
    for (let i = 0; i < chunks; i++) {
      if (i > 0) await this.sleep(pause);
      if (res.destroyed) return;
      res.write(reply.body.subarray(i * size, (i + 1) * size));
    }
    res.end();
  }

  private control(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): void {
    const json = (status: number, value: unknown): void =>
      send(res, {
        status,
        headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store' },
        body: Buffer.from(JSON.stringify(value)),
      });
    if (pathname === '/__sim/stats') {
      if (req.method === 'GET' || req.method === 'HEAD') return json(200, this.stats.snapshot());
    } else if (pathname === '/__sim/reset') {
      if (req.method === 'POST') {
        req.resume(); // a body, if any, is ignored, but must be drained for keep-alive
        this.stats.reset();
        return json(200, this.stats.snapshot());
      }
    } else {
      return send(res, text(404, 'Not Found'));
    }
    send(res, text(405, 'Method Not Allowed'));
  }
}

function parseTarget(rawUrl: string | undefined): URL | undefined {
  try {
    return new URL(rawUrl ?? '/', 'http://simulator.invalid');
  } catch {
    return undefined;
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment).toLowerCase();
  } catch {
    return segment; // a broken escape is malformed anyway, and the patterns reject the '%'
  }
}

/** An integer query parameter ≥ min, the default when absent, undefined when malformed. */
function parseQueryInt(value: string | null, fallback: number, min: number): number | undefined {
  if (value === null) return fallback;
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

/** True when Accept-Encoding allows gzip (by name or `*`) with a non-zero quality. */
function acceptsGzip(req: http.IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  let star = false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const allowed = q === undefined || Number(q.slice(2)) > 0;
    if (coding.trim() === 'gzip' || coding.trim() === 'x-gzip') return allowed;
    if (coding.trim() === '*') star = allowed;
  }
  return star;
}

function text(status: number, body: string, cacheControl?: string): Reply {
  return {
    status,
    headers: { 'content-type': TEXT_TYPE, ...(cacheControl ? { 'cache-control': cacheControl } : {}) },
    body: Buffer.from(body),
  };
}

async function encode(body: Buffer, gzipOk: boolean): Promise<Reply> {
  return { status: 200, headers: jsonHeaders(gzipOk), body: gzipOk ? await gzip(body) : body };
}

/** The headers the real API sends with a JSON answer, compressed when the client asked. */
function jsonHeaders(gzipOk: boolean): Record<string, string> {
  return {
    'content-type': JSON_TYPE,
    'cache-control': PAYLOAD_CACHE_CONTROL,
    vary: 'Accept-Encoding',
    ...(gzipOk ? { 'content-encoding': 'gzip' } : {}),
  };
}

/** The same reply with its (decoded) body cut in half, re-encoded, so only parsing fails. */
async function truncate(reply: Reply): Promise<Reply> {
  const gzipped = reply.headers['content-encoding'] === 'gzip';
  const plain = gzipped ? await gunzip(reply.body) : reply.body;
  const cut = plain.subarray(0, Math.floor(plain.length / 2));
  return { ...reply, body: gzipped ? await gzip(cut) : cut };
}

function send(res: http.ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
  res.end(reply.body);
}

/** Headers promising the whole body, half of it, then a destroyed socket. */
function sendThenReset(res: http.ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
  const half = reply.body.subarray(0, Math.floor(reply.body.length / 2));
  res.write(half.length > 0 ? half : Buffer.alloc(0), () => res.socket?.destroy());
}
