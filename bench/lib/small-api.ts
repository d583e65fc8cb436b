/**
 * A stand-in PokeAPI for the queue-overhead scenario: it answers `/api/v2/pokemon/{id}/` for ANY
 * positive id with a small (~2 KB) payload of the real shape, gzipped when asked, with no
 * latency. The simulator only knows the 1351 real ids and sends ~99 KB payloads, so 20,000
 * distinct cheap jobs need this until the simulator grows an option for it (see bench/README.md).
 *
 * Each payload is built from the simulator's synthetic one for id ((id - 1) mod 1025) + 1, with
 * the id and name made unique and everything bulky (moves, sprite versions, game indices) cut.
 * Bodies are built and gzipped once, before timing, so the server costs the same for every run.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { syntheticPokemon } from '../../src/simulator/payload';

const gzip = promisify(zlib.gzip);

export interface SmallApi {
  /** Base URL, e.g. `http://127.0.0.1:40123/api/v2`. */
  url: string;
  /** API requests since start. */
  requests(): number;
  /** Mean payload size, bytes, uncompressed and gzipped. */
  payloadBytes: { plain: number; gzipped: number };
  close(): Promise<void>;
}

/** A small payload of the real shape for any positive id. */
export function smallPayload(id: number, apiBaseUrl: string): object {
  const base = syntheticPokemon(((id - 1) % 1025) + 1, apiBaseUrl) as Record<string, unknown> & {
    name: string;
    moves: unknown[];
    sprites: Record<string, unknown>;
  };
  const name = `${base.name}-${id}`;
  const sprites: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base.sprites)) if (k !== 'other' && k !== 'versions') sprites[k] = v;
  return {
    ...base,
    forms: [{ name, url: `${apiBaseUrl}/pokemon-form/${id}/` }],
    game_indices: [],
    id,
    location_area_encounters: `${apiBaseUrl}/pokemon/${id}/encounters`,
    moves: base.moves.slice(0, 2),
    name,
    sprites: { ...sprites, other: {}, versions: {} },
  };
}

/**
 * Starts the server with bodies for ids 1..maxId ready; other ids are built on demand. With
 * `prebuilt` lower than maxId (a 200,000-job batch would take a minute to build and half a GB to
 * keep), ids above it are answered from a template per species, uncompressed, and never kept.
 */
export async function startSmallApi(maxId: number, opts: { prebuilt?: number } = {}): Promise<SmallApi> {
  const prebuilt = Math.min(maxId, opts.prebuilt ?? maxId);
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/api/v2`;

  const plain = new Map<number, Buffer>();
  const zipped = new Map<number, Buffer>();
  const build = async (id: number) => {
    const body = Buffer.from(JSON.stringify(smallPayload(id, url)));
    plain.set(id, body);
    zipped.set(id, await gzip(body));
  };
  let plainBytes = 0;
  let zippedBytes = 0;
  for (let id = 1; id <= prebuilt; id += 500) {
    await Promise.all(Array.from({ length: Math.min(500, prebuilt - id + 1) }, (_, i) => build(id + i)));
  }
  for (let id = 1; id <= prebuilt; id++) {
    plainBytes += plain.get(id)!.length;
    zippedBytes += zipped.get(id)!.length;
  }
  // One template per species: the JSON of a stand-in id, split where the id and name go.
  const TEMPLATE_ID = 987654321;
  const templates = new Map<number, string[]>();
  const templated = (id: number): Buffer => {
    const species = ((id - 1) % 1025) + 1;
    let parts = templates.get(species);
    if (!parts) {
      parts = JSON.stringify(smallPayload(TEMPLATE_ID - 1025 + species, url)).split(String(TEMPLATE_ID - 1025 + species));
      templates.set(species, parts);
    }
    return Buffer.from(parts.join(String(id)));
  };

  let requests = 0;
  const route = /^\/api\/v2\/pokemon\/(\d+)\/?$/;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    const m = route.exec(req.url ?? '');
    const id = m ? Number(m[1]) : 0;
    if (!m || id < 1 || !Number.isSafeInteger(id)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found');
      return;
    }
    const send = () => {
      const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const body = gz ? zipped.get(id)! : plain.get(id)!;
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(body.length),
        ...(gz ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(body);
    };
    if (plain.has(id)) send();
    else if (id > prebuilt) {
      const body = templated(id);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) });
      res.end(body);
    } else void build(id).then(send);
  });

  return {
    url,
    requests: () => requests,
    payloadBytes: { plain: Math.round(plainBytes / Math.max(1, prebuilt)), gzipped: Math.round(zippedBytes / Math.max(1, prebuilt)) },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
