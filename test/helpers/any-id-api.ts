/**
 * A stand-in PokeAPI that answers `/api/v2/pokemon/{id}/` for ANY positive id, with a small
 * (~2 KB) payload of the real shape (gzipped when asked), and counts every fetch per id. The
 * simulator knows only the 1351 real ids and sends ~99 KB payloads; a test of 20,000 distinct
 * jobs on a shared 2-core machine needs cheap ones. (bench/lib/small-api.ts does the same for the
 * benchmark, on loopback only.) Payloads are built on first request and kept.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { syntheticPokemon } from '../../src/simulator/payload';

export interface AnyIdApi {
  /** Base URL, e.g. `http://10.201.7.1:40123/api/v2`. */
  url: string;
  /** Fetches answered, by id, since start or the last reset. */
  fetches(): Map<number, number>;
  resetCounts(): void;
  close(): Promise<void>;
}

type Base = Record<string, unknown> & { name: string };

/**
 * The simulator's payload for one of the 1025 species, trimmed to ~2 KB. Built once per species
 * (a full synthetic payload costs milliseconds): on a loaded machine building one per request
 * made the API itself slow enough for requests to time out and be retried.
 */
function trimmedBase(speciesId: number, apiBaseUrl: string, cache: Map<number, Base>): Base {
  let base = cache.get(speciesId);
  if (!base) {
    const full = syntheticPokemon(speciesId, apiBaseUrl) as Base & { moves: unknown[]; sprites: Record<string, unknown> };
    const sprites: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(full.sprites)) if (k !== 'other' && k !== 'versions') sprites[k] = v;
    base = { ...full, game_indices: [], moves: full.moves.slice(0, 2), sprites: { ...sprites, other: {}, versions: {} } };
    cache.set(speciesId, base);
  }
  return base;
}

/** A small payload of the real shape for any positive id: a species' trimmed one, renamed. */
function smallPayload(id: number, apiBaseUrl: string, cache: Map<number, Base>): object {
  const base = trimmedBase(((id - 1) % 1025) + 1, apiBaseUrl, cache);
  const name = `${base.name}-${id}`;
  return {
    ...base,
    forms: [{ name, url: `${apiBaseUrl}/pokemon-form/${id}/` }],
    id,
    location_area_encounters: `${apiBaseUrl}/pokemon/${id}/encounters`,
    name,
  };
}

/** Starts the API; the 1025 species' trimmed payloads are built before it answers. */
export async function startAnyIdApi(opts: { host?: string; latencyMs?: number } = {}): Promise<AnyIdApi> {
  const host = opts.host ?? '127.0.0.1';
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}/api/v2`;
  const bases = new Map<number, Base>();
  for (let species = 1; species <= 1025; species++) trimmedBase(species, url, bases);
  const bodies = new Map<number, { plain: Buffer; gzipped: Buffer }>();
  let counts = new Map<number, number>();
  const route = /^\/api\/v2\/pokemon\/(\d+)\/?$/;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const m = route.exec(req.url ?? '');
    const id = m ? Number(m[1]) : 0;
    if (!m || id < 1 || !Number.isSafeInteger(id)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found');
      return;
    }
    const send = () => {
      // Counted when answered: a request lost on the way in was never served.
      counts.set(id, (counts.get(id) ?? 0) + 1);
      let body = bodies.get(id);
      if (!body) {
        const plain = Buffer.from(JSON.stringify(smallPayload(id, url, bases)));
        body = { plain, gzipped: gzipSync(plain) };
        bodies.set(id, body);
      }
      const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const bytes = gz ? body.gzipped : body.plain;
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(bytes.length),
        ...(gz ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(bytes);
    };
    if (opts.latencyMs) setTimeout(send, opts.latencyMs);
    else send();
  });
  return {
    url,
    fetches: () => new Map(counts),
    resetCounts: () => {
      counts = new Map();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
