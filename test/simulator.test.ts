import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  idForName,
  isKnownId,
  KNOWN_ID_COUNT,
  knownIds,
  nameForId,
  syntheticPokemon,
} from '../src/simulator/payload';
import {
  InvalidSimulatorOptionError,
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
  type SimulatorStats,
} from '../src/simulator/server';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request on a fresh connection, body undecoded: tests must see exactly what the simulator
 * sends (encoding, content-length, cut bodies), which fetch would hide or reject.
 */
function request(
  url: string,
  { method = 'GET', headers = {}, timeoutMs = 5000 }: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function json<T = Record<string, unknown>>(answer: Answer): T {
  const body = answer.headers['content-encoding'] === 'gzip' ? gunzipSync(answer.body) : answer.body;
  return JSON.parse(body.toString('utf8')) as T;
}

function origin(sim: RunningSimulator): string {
  return new URL(sim.url).origin;
}

async function withSimulator<T>(opts: SimulatorOptions, body: (sim: RunningSimulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(opts);
  try {
    return await body(sim);
  } finally {
    await sim.close();
  }
}

interface PokemonPayload {
  id: number;
  name: string;
  height: number;
  weight: number;
  base_experience: number | null;
  order: number;
  is_default: boolean;
  species: { name: string; url: string };
  types: { slot: number; type: { name: string; url: string } }[];
  abilities: { ability: { name: string; url: string }; is_hidden: boolean; slot: number }[];
  stats: { base_stat: number; effort: number; stat: { name: string; url: string } }[];
  sprites: { front_default: string | null; other: object; versions: object };
  moves: { move: { name: string; url: string }; version_group_details: object[] }[];
}

describe('the simulated PokeAPI', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(async () => {
    await sim.close();
  });

  describe('a payload', () => {
    it('has every field the normalizer reads, with absolute URLs under the simulator', async () => {
      const answer = await request(`${sim.url}/pokemon/25/`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.headers['cache-control']).toBe('public, max-age=86400, s-maxage=86400');
      const p = json<PokemonPayload>(answer);

      expect(p.id).toBe(25);
      expect(p.name).toBe(nameForId(25));
      expect(p.name).toMatch(/^[a-z-]+$/);
      expect(Number.isInteger(p.height) && p.height > 0).toBe(true);
      expect(Number.isInteger(p.weight) && p.weight > 0).toBe(true);
      expect(typeof p.base_experience).toBe('number');
      expect(typeof p.order).toBe('number');
      expect(p.is_default).toBe(true);
      expect(p.species).toEqual({ name: p.name, url: `${sim.url}/pokemon-species/25/` });
      expect(p.types.length).toBeGreaterThanOrEqual(1);
      expect(p.types.length).toBeLessThanOrEqual(2);
      expect(p.types.map((t) => t.slot)).toEqual(p.types.map((_, i) => i + 1));
      expect(p.types[0].type.url).toMatch(new RegExp(`^${sim.url}/type/\\d+/$`));
      expect(p.abilities.some((a) => !a.is_hidden)).toBe(true);
      expect(p.abilities.every((a) => typeof a.is_hidden === 'boolean' && a.ability.url.startsWith(sim.url))).toBe(true);
      expect(p.stats.map((s) => s.stat.name)).toEqual(['hp', 'attack', 'defense', 'special-attack', 'special-defense', 'speed']);
      expect(p.stats.every((s) => Number.isInteger(s.base_stat) && s.base_stat > 0)).toBe(true);
      expect(p.sprites.front_default).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.+\.png$/);
      expect(p.sprites).toHaveProperty('other.official-artwork.front_default');
      expect(p.sprites).toHaveProperty('versions.generation-i.red-blue.front_default');
      expect(p.moves.length).toBeGreaterThan(0);
      expect(p.moves[0].move.url).toMatch(new RegExp(`^${sim.url}/move/\\d+/$`));
      expect(p.moves[0].version_group_details.length).toBeGreaterThan(0);
      for (const key of ['forms', 'game_indices', 'held_items', 'location_area_encounters', 'cries', 'past_types', 'past_abilities']) {
        expect(p).toHaveProperty(key);
      }
    });

    it('is byte-identical on every request, and equal to syntheticPokemon()', async () => {
      const first = await request(`${sim.url}/pokemon/151/`);
      const second = await request(`${sim.url}/pokemon/151`);
      expect(first.body.equals(second.body)).toBe(true);
      expect(first.body.toString()).toBe(JSON.stringify(syntheticPokemon(151, sim.url)));
    });

    it('is served by name as well as by id', async () => {
      const byName = await request(`${sim.url}/pokemon/${nameForId(10100)}/`);
      expect(byName.status).toBe(200);
      expect(json<PokemonPayload>(byName).id).toBe(10100);
    });

    it('marks alternate forms as not default, with a base species, and no base experience for 10278–10326', async () => {
      const form = json<PokemonPayload>(await request(`${sim.url}/pokemon/10300/`));
      expect(form.is_default).toBe(false);
      expect(form.base_experience).toBeNull();
      expect(form.name).toBe(`${form.species.name}-form`);
      expect(isKnownId(Number(form.species.url.split('/').at(-2)))).toBe(true);
      expect(syntheticPokemon(10277, sim.url)).toHaveProperty('base_experience', expect.any(Number));
      expect(syntheticPokemon(10326, sim.url)).toHaveProperty('base_experience', null);
    });
  });

  describe('names', () => {
    it('are unique per id, invertible and pronounceable', () => {
      const names = knownIds().map((id) => nameForId(id)!);
      expect(new Set(names).size).toBe(KNOWN_ID_COUNT);
      for (const [i, id] of knownIds().entries()) expect(idForName(names[i])).toBe(id);
      expect(names.every((n) => /^([bdgklmnprstvz][aeiou]){2}ling(-form)?$/.test(n))).toBe(true);
      expect(nameForId(1026)).toBeUndefined();
      expect(idForName('pikachu')).toBeUndefined();
    });
  });

  describe('payload sizes', () => {
    it('follow the real distribution over all 1351 ids, moves making most of the bytes', () => {
      const sizes: number[] = [];
      let total = 0;
      let moves = 0;
      let largest = { id: 0, size: 0 };
      for (const id of knownIds()) {
        const payload = syntheticPokemon(id, sim.url) as PokemonPayload;
        const size = JSON.stringify(payload).length;
        sizes.push(size);
        total += size;
        // Everything but the moves is small: measuring it is cheaper than stringifying moves twice.
        moves += size - JSON.stringify({ ...payload, moves: [] }).length + '[]'.length;
        if (size > largest.size) largest = { id, size };
      }
      sizes.sort((a, b) => a - b);
      const median = sizes[Math.floor(sizes.length / 2)];
      expect(sizes).toHaveLength(1351);
      expect(median).toBeGreaterThan(80_000);
      expect(median).toBeLessThan(120_000);
      expect(sizes[0]).toBeGreaterThan(8_000);
      expect(sizes.at(-1)).toBeGreaterThan(500_000);
      expect(moves / total).toBeGreaterThan(0.8);
      expect(largest.id).toBe(151);
    });
  });

  describe('content negotiation', () => {
    it('gzips when asked, and the gzip decodes to the same JSON', async () => {
      const plain = await request(`${sim.url}/pokemon/1/`);
      const zipped = await request(`${sim.url}/pokemon/1/`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(zipped.headers.vary).toBe('Accept-Encoding');
      expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
      expect(zipped.body.length).toBeLessThan(plain.body.length / 5);
      expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    });

    it('does not gzip when gzip is refused with q=0', async () => {
      const answer = await request(`${sim.url}/pokemon/1/`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
      expect(answer.headers['content-encoding']).toBeUndefined();
    });
  });

  describe('unknown and malformed paths', () => {
    it.each(['1026', '99999', '0', '10000', '10327', 'nosuchmon'])('answers 404 Not Found as plain text for %s', async (segment) => {
      const answer = await request(`${sim.url}/pokemon/${segment}/`);
      expect(answer.status).toBe(404);
      expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(answer.body.toString()).toBe('Not Found');
    });

    it.each(['abc!', '-1', '1.5', '%20'])('answers 400 for the malformed id %s', async (segment) => {
      const answer = await request(`${sim.url}/pokemon/${segment}/`);
      expect(answer.status).toBe(400);
      expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    });
  });

  describe('the list endpoint', () => {
    it('pages through all 1351 ids in id order', async () => {
      const seen: { name: string; url: string }[] = [];
      let next: string | null = `${sim.url}/pokemon?offset=0&limit=200`;
      let pages = 0;
      while (next) {
        const page: { count: number; next: string | null; previous: string | null; results: { name: string; url: string }[] } = json(
          await request(next),
        );
        expect(page.count).toBe(1351);
        if (pages === 0) expect(page.previous).toBeNull();
        else expect(page.previous).toMatch(/^http:\/\/.+\/api\/v2\/pokemon\/\?offset=\d+&limit=200$/);
        seen.push(...page.results);
        next = page.next;
        pages++;
      }
      expect(pages).toBe(7);
      expect(seen).toHaveLength(1351);
      expect(seen.map((r) => Number(r.url.split('/').at(-2)))).toEqual(knownIds());
      expect(seen[24]).toEqual({ name: nameForId(25), url: `${sim.url}/pokemon/25/` });
    });

    it('defaults to 20 results at /pokemon/', async () => {
      const page = json<{ results: unknown[]; next: string }>(await request(`${sim.url}/pokemon/`));
      expect(page.results).toHaveLength(20);
      expect(page.next).toBe(`${sim.url}/pokemon/?offset=20&limit=20`);
    });

    it.each(['offset=-1', 'limit=0', 'limit=abc', 'offset=1.5'])('answers 400 for %s', async (query) => {
      expect((await request(`${sim.url}/pokemon/?${query}`)).status).toBe(400);
    });
  });
});

describe('failFirst', () => {
  it('answers 500 to the first N requests of each id, then the payload', async () => {
    await withSimulator({ failFirst: 2 }, async (sim) => {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await request(`${sim.url}/pokemon/7/`)).status);
      expect(statuses).toEqual([500, 500, 200]);
      expect((await request(`${sim.url}/pokemon/8/`)).status).toBe(500);
    });
  });

  it('answers 429 with a Retry-After header', async () => {
    await withSimulator({ failFirst: 1, failFirstKind: '429', retryAfterSeconds: 3 }, async (sim) => {
      const answer = await request(`${sim.url}/pokemon/7/`);
      expect(answer.status).toBe(429);
      expect(answer.headers['retry-after']).toBe('3');
      expect((await request(`${sim.url}/pokemon/7/`)).status).toBe(200);
    });
  });

  it('answers 429 without Retry-After when retryAfterSeconds is null', async () => {
    await withSimulator({ failFirst: 1, failFirstKind: '429', retryAfterSeconds: null }, async (sim) => {
      const answer = await request(`${sim.url}/pokemon/7/`);
      expect(answer.status).toBe(429);
      expect(answer.headers).not.toHaveProperty('retry-after');
    });
  });

  it('truncates the JSON of a complete 200 so only parsing fails, gzipped or not', async () => {
    await withSimulator({ failFirst: 2, failFirstKind: 'truncate' }, async (sim) => {
      const headerSets: Record<string, string>[] = [{}, { 'accept-encoding': 'gzip' }];
      for (const headers of headerSets) {
        const answer = await request(`${sim.url}/pokemon/9/`, { headers });
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(Number(answer.headers['content-length'])).toBe(answer.body.length);
        expect(() => json(answer)).toThrow(SyntaxError);
      }
      expect(json(await request(`${sim.url}/pokemon/9/`))).toHaveProperty('id', 9);
    });
  });

  it('answers an HTML page with a 200', async () => {
    await withSimulator({ failFirst: 1, failFirstKind: 'html' }, async (sim) => {
      const answer = await request(`${sim.url}/pokemon/9/`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^text\/html/);
      expect(answer.body.toString()).toMatch(/^<!DOCTYPE html>/);
    });
  });

  it("sends another id's payload", async () => {
    await withSimulator({ failFirst: 1, failFirstKind: 'wrong-id' }, async (sim) => {
      const wrong = json<PokemonPayload>(await request(`${sim.url}/pokemon/9/`));
      expect(wrong.id).not.toBe(9);
      expect(json<PokemonPayload>(await request(`${sim.url}/pokemon/9/`)).id).toBe(9);
    });
  });

  it('resets the connection mid-body', async () => {
    await withSimulator({ failFirst: 1, failFirstKind: 'reset' }, async (sim) => {
      await expect(request(`${sim.url}/pokemon/9/`)).rejects.toThrow();
      await expect(fetch(`${sim.url}/pokemon/10/`).then((r) => r.json())).rejects.toThrow();
      expect((await request(`${sim.url}/pokemon/9/`)).status).toBe(200);
    });
  });

  it('hangs until the client gives up', async () => {
    await withSimulator({ failFirst: 1, failFirstKind: 'hang' }, async (sim) => {
      await expect(request(`${sim.url}/pokemon/9/`, { timeoutMs: 200 })).rejects.toThrow(/no answer in 200 ms/);
      expect((await request(`${sim.url}/pokemon/9/`)).status).toBe(200);
    });
  });

  it('trickles the body over slowBodyMs, intact', async () => {
    await withSimulator({ failFirst: 1, failFirstKind: 'slow', slowBodyMs: 400 }, async (sim) => {
      const started = Date.now();
      const answer = await request(`${sim.url}/pokemon/9/`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(380);
      expect(answer.body.toString()).toBe(JSON.stringify(syntheticPokemon(9, sim.url)));
    });
  });

  it('spares the ids outside faultIds', async () => {
    await withSimulator({ failFirst: 5, faultIds: [4] }, async (sim) => {
      expect((await request(`${sim.url}/pokemon/4/`)).status).toBe(500);
      expect((await request(`${sim.url}/pokemon/5/`)).status).toBe(200);
    });
  });
});

describe('fault rates', () => {
  it('fault the same attempts of the same ids for the same seed', async () => {
    const run = (seed: number) =>
      withSimulator({ errorRate: 0.3, rateLimitRate: 0.2, faultSeed: seed }, async (sim) => {
        const statuses: number[] = [];
        for (let id = 1; id <= 40; id++) statuses.push((await request(`${sim.url}/pokemon/${id}/`)).status);
        return statuses;
      });
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    expect(first.filter((s) => s === 500).length).toBeGreaterThan(3);
    expect(first.filter((s) => s === 429).length).toBeGreaterThan(1);
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(10);
  });

  it('never fault the /__sim routes', async () => {
    await withSimulator({ errorRate: 1 }, async (sim) => {
      expect((await request(`${sim.url}/pokemon/1/`)).status).toBe(500);
      expect((await request(`${origin(sim)}/__sim/stats`)).status).toBe(200);
    });
  });
});

describe('latency', () => {
  it('delays every answer by latencyMs', async () => {
    await withSimulator({ latencyMs: 150 }, async (sim) => {
      const started = Date.now();
      expect((await request(`${sim.url}/pokemon/1/`)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });
  });
});

describe('/__sim/stats', () => {
  it('counts requests by status, id and fault, and concurrency', async () => {
    await withSimulator({ failFirst: 1, latencyMs: 100, faultIds: [1] }, async (sim) => {
      const before = Date.now();
      await Promise.all([1, 2, 3, 4].map((id) => request(`${sim.url}/pokemon/${id}/`)));
      await request(`${sim.url}/pokemon/${nameForId(2)}/`);
      await request(`${sim.url}/pokemon/1026/`);
      const stats = json<SimulatorStats>(await request(`${origin(sim)}/__sim/stats`));
      expect(stats.requests).toBe(6);
      expect(stats.byStatus).toEqual({ '200': 4, '404': 1, '500': 1 });
      expect(stats.byId).toEqual({ '1': 1, '2': 2, '3': 1, '4': 1 });
      expect(stats.faults).toEqual({ '500': 1 });
      expect(stats.maxInFlight).toBe(4);
      expect(stats.inFlight).toBe(0);
      expect(stats.requestTimes).toHaveLength(6);
      expect(stats.requestTimes.every((t) => t >= before && t <= Date.now())).toBe(true);
      expect(sim.stats()).toEqual(stats);
    });
  });

  it('starts again from zero after POST /__sim/reset', async () => {
    await withSimulator({}, async (sim) => {
      await request(`${sim.url}/pokemon/1/`);
      const reset = await request(`${origin(sim)}/__sim/reset`, { method: 'POST' });
      expect(reset.status).toBe(200);
      const stats = sim.stats();
      expect(stats).toMatchObject({ requests: 0, byStatus: {}, byId: {}, faults: {}, requestTimes: [] });
    });
  });
});

describe('option validation', () => {
  it.each<[string, SimulatorOptions]>([
    ['errorRate', { errorRate: 1.5 }],
    ['hangRate', { hangRate: -0.1 }],
    ['errorRate', { errorRate: 0.6, resetRate: 0.6 }],
    ['latencyMs', { latencyMs: -1 }],
    ['jitterMs', { jitterMs: Number.NaN }],
    ['port', { port: 70000 }],
    ['retryAfterSeconds', { retryAfterSeconds: 1.5 }],
    ['failFirst', { failFirst: -1 }],
    ['failFirstKind', { failFirstKind: 'teapot' as never }],
    ['faultIds', { faultIds: [0] }],
    ['dataDir', { dataDir: '/nonexistent/pokequeue' }],
  ])('rejects a bad %s at once', async (option, opts) => {
    const started = startSimulator(opts);
    await expect(started).rejects.toThrow(InvalidSimulatorOptionError);
    await expect(started).rejects.toHaveProperty('option', option);
  });
});

describe('close()', () => {
  it('ends a hanging request and returns promptly', async () => {
    const sim = await startSimulator({ hangRate: 1 });
    const pending = request(`${sim.url}/pokemon/1/`, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.stats().inFlight).toBe(1);
    const started = Date.now();
    await sim.close();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('dataDir', () => {
  it('serves the {id}.json.gz files of a directory and 404s the ids it lacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pokequeue-sim-'));
    try {
      const files = { 1: { id: 1, name: 'firstmon' }, 10001: { id: 10001, name: 'firstmon-alt' } };
      for (const [id, payload] of Object.entries(files)) writeFileSync(join(dir, `${id}.json.gz`), gzipSync(JSON.stringify(payload)));
      await withSimulator({ dataDir: dir }, async (sim) => {
        expect(json(await request(`${sim.url}/pokemon/1/`))).toEqual(files[1]);
        const zipped = await request(`${sim.url}/pokemon/10001/`, { headers: { 'accept-encoding': 'gzip' } });
        expect(zipped.headers['content-encoding']).toBe('gzip');
        expect(json(zipped)).toEqual(files[10001]);
        expect(json(await request(`${sim.url}/pokemon/firstmon-alt/`))).toEqual(files[10001]);
        expect((await request(`${sim.url}/pokemon/2/`)).status).toBe(404);
        const list = json<{ count: number; results: { name: string }[] }>(await request(`${sim.url}/pokemon/`));
        expect(list.count).toBe(2);
        expect(list.results.map((r) => r.name)).toEqual(['firstmon', 'firstmon-alt']);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
