import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';

/**
 * A PokeAPI that answers whatever a test tells it to: the hostile server of issue 11 (a broken
 * mirror, a compromised API, a misbehaving proxy). Real HTTP on loopback; every request is
 * logged, so a test can prove what pokequeue asked for (or that it asked nothing).
 */
export interface HostileRequest {
  method: string;
  url: string;
  /** Bytes of body this server wrote for the request before the client hung up or it ended. */
  bytesSent: number;
  /** When the client closed the connection, ms after the request arrived (undefined while open). */
  closedAfterMs?: number;
}

export type Answer = (req: IncomingMessage, res: ServerResponse, log: HostileRequest) => void;

export interface HostileApi {
  /** `http://127.0.0.1:<port>/api/v2`, for POKEAPI_URL. */
  url: string;
  origin: string;
  requests: HostileRequest[];
  /** What `/api/v2/pokemon/<id>/` answers, per id; other paths go to `fallback`. */
  pokemon: Map<number, Answer>;
  /** What `/api/v2/pokemon/?offset=...` (the list) and any other path answer. */
  fallback: Answer;
  close(): Promise<void>;
}

export async function startHostileApi(): Promise<HostileApi> {
  const requests: HostileRequest[] = [];
  const api: HostileApi = {
    url: '',
    origin: '',
    requests,
    pokemon: new Map(),
    fallback: (_req, res) => json(res, 404, { detail: 'Not found.' }),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const started = Date.now();
    const log: HostileRequest = { method: req.method ?? '', url: req.url ?? '', bytesSent: 0 };
    requests.push(log);
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer | string, ...rest: unknown[]) => {
      log.bytesSent += Buffer.byteLength(chunk);
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof res.write;
    res.on('close', () => (log.closedAfterMs = Date.now() - started));
    const m = /^\/api\/v2\/pokemon\/(\d+)\/$/.exec(req.url ?? '');
    const answer = (m && api.pokemon.get(Number(m[1]))) || api.fallback;
    answer(req, res, log);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  api.origin = `http://127.0.0.1:${port}`;
  api.url = `${api.origin}/api/v2`;
  api.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return api;
}

/** Answers JSON, compressed with `encoding` when given. */
export function json(res: ServerResponse, status: number, body: unknown, encoding?: 'gzip' | 'br' | 'deflate'): void {
  sendBytes(res, status, Buffer.from(JSON.stringify(body)), encoding);
}

export function sendBytes(res: ServerResponse, status: number, plain: Buffer, encoding?: 'gzip' | 'br' | 'deflate'): void {
  const body = encoding ? compress(plain, encoding) : plain;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...(encoding ? { 'content-encoding': encoding } : {}) });
  res.end(body);
}

/** Answers already-encoded bytes as they are, with the Content-Encoding they claim. */
export function sendEncoded(body: Buffer, encoding: string): Answer {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'content-encoding': encoding });
    res.write(body);
    res.end();
  };
}

/** A 200 whose body never ends: 1 MiB of spaces after another, as fast as the client reads. */
export const endlessBody: Answer = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(1 << 20, 0x20);
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
  };
  res.on('drain', pump);
  pump();
};

function compress(plain: Buffer, encoding: 'gzip' | 'br' | 'deflate'): Buffer {
  if (encoding === 'gzip') return zlib.gzipSync(plain);
  if (encoding === 'deflate') return zlib.deflateSync(plain);
  return zlib.brotliCompressSync(plain);
}

/**
 * Decompression bombs, built once per test file (~2 s in all): small on the wire, enormous inflated.
 * - gzip: 64 gzip members of 16 MiB of zeros each (gunzip reads concatenated members): 1 MiB on
 *   the wire, 1 GiB inflated, as in the issue;
 * - gzip6: the same, 384 members: 6 MiB on the wire;
 * - deflate: 256 MiB of zeros, ~250 KB on the wire;
 * - brotli: 1 GiB of zeros, ~1.6 KB on the wire (under 4 KB: the size once decoded synchronously).
 */
export function buildBombs(): { gzip: Buffer; gzip6: Buffer; deflate: Buffer; brotli: Buffer } {
  const member = zlib.gzipSync(Buffer.alloc(16 << 20), { level: 9 });
  const brotli = zlib.brotliCompressSync(Buffer.alloc(1 << 30), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
  return {
    gzip: Buffer.concat(Array<Buffer>(64).fill(member)),
    gzip6: Buffer.concat(Array<Buffer>(384).fill(member)),
    deflate: zlib.deflateSync(Buffer.alloc(256 << 20), { level: 9 }),
    brotli,
  };
}

/** A payload in the real API's shape, small, that normalizes; `patch` overrides any field. */
export function payload(id: number, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `p${id}`,
    height: 7,
    weight: 69,
    base_experience: 64,
    order: id,
    is_default: true,
    species: { name: `p${id}`, url: `https://pokeapi.co/api/v2/pokemon-species/${id}/` },
    types: [{ slot: 1, type: { name: 'grass', url: '' } }],
    abilities: [{ ability: { name: 'overgrow', url: '' }, is_hidden: false, slot: 1 }],
    stats: [{ base_stat: 45, effort: 0, stat: { name: 'hp', url: '' } }],
    sprites: { front_default: `https://example.test/${id}.png` },
    moves: [],
    ...patch,
  };
}

/** Peak resident memory of a process, from /proc (Linux): VmHWM, in bytes. */
export function peakRss(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kb) * 1024;
}
