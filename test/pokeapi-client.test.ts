import { PokeApiClient } from '../src/pokeapi/client';
import { BadPayloadError, NotFoundError, RateLimitedError, TransientFetchError } from '../src/pokeapi/errors';
import { normalizePokemon } from '../src/pokeapi/normalize';
import { ParsePool } from '../src/pokeapi/parse-pool';
import { nameForId } from '../src/simulator/payload';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../src/simulator/server';
import { parseConfig } from '../src/config/load';

const defaults = parseConfig({});
const limits = { maxWireBytes: defaults.httpMaxWireBytes, maxBodyBytes: defaults.httpMaxBodyBytes };

/** Real HTTP over loopback against the simulator: each outcome of the fetch policy, one by one. */
describe('the PokeAPI client', () => {
  const sims: RunningSimulator[] = [];
  const clients: PokeApiClient[] = [];
  async function setup(opts: SimulatorOptions = {}, timeoutMs = 2000) {
    const sim = await startSimulator(opts);
    sims.push(sim);
    const client = new PokeApiClient({ ...limits, baseUrl: sim.url, timeoutMs, connections: 4, keepCompressed: true });
    clients.push(client);
    return { sim, client };
  }
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(sims.map((s) => s.close()));
  });

  it('fetches a payload gzip-compressed and parses it', async () => {
    const { client } = await setup();
    const got = await client.fetchPokemon(151);
    expect((got.payload as { id: number }).id).toBe(151);
    expect(got.wireBytes).toBeLessThan(JSON.stringify(got.payload).length / 5);
    expect(got.gzipped!.length).toBe(got.wireBytes);
    expect(normalizePokemon(got.payload, 151, got.url).moveCount).toBeGreaterThan(0);
  });

  it('turns a 404 into NotFoundError', async () => {
    const { client } = await setup();
    await expect(client.fetchPokemon(99999)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('turns a 500 into a retryable server error', async () => {
    const { client } = await setup({ failFirst: 1, failFirstKind: '500' });
    await expect(client.fetchPokemon(1)).rejects.toMatchObject({ reason: 'server_error', retryable: true });
    await expect(client.fetchPokemon(1)).resolves.toBeDefined();
  });

  it('reads Retry-After from a 429, and uses the default pause without one', async () => {
    const a = await setup({ failFirst: 1, failFirstKind: '429', retryAfterSeconds: 2 });
    await expect(a.client.fetchPokemon(1)).rejects.toMatchObject({ retryAfterMs: 2000 });
    const b = await setup({ failFirst: 1, failFirstKind: '429', retryAfterSeconds: null });
    const err = await b.client.fetchPokemon(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(1000);
  });

  it.each([
    ['truncate', 'bad_body'],
    ['html', 'bad_body'],
    ['reset', 'network'],
    ['hang', 'timeout'],
    ['slow', 'timeout'],
  ] as const)('treats a %s response as transient (%s)', async (kind, reason) => {
    const { client } = await setup({ failFirst: 1, failFirstKind: kind, slowBodyMs: 3000 }, 700);
    const err = await client.fetchPokemon(7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientFetchError);
    expect((err as TransientFetchError).reason).toBe(reason);
  });

  it('catches a 200 carrying another Pokémon when normalizing, with a body sample', async () => {
    const { client } = await setup({ failFirst: 1, failFirstKind: 'wrong-id' });
    const got = await client.fetchPokemon(7);
    expect(() => normalizePokemon(got.payload, 7, got.url)).toThrow(BadPayloadError);
    expect(() => normalizePokemon(got.payload, 7, got.url)).toThrow(/instead; body starts: \{/);
  });

  it('lists every id the API serves, paging, with its name', async () => {
    const { client } = await setup();
    const { ids, names } = await client.listAll(500);
    expect(ids).toHaveLength(1351);
    expect(ids[0]).toBe(1);
    expect(ids.at(-1)).toBe(10326);
    expect(names.size).toBe(1351);
    expect(names.get(nameForId(25)!)).toBe(25);
    expect(names.get(nameForId(10001)!)).toBe(10001);
  });

  it('probes an unreachable API as one clear problem', async () => {
    const client = new PokeApiClient({ ...limits, baseUrl: 'http://127.0.0.1:1/api/v2', timeoutMs: 1000, connections: 1 });
    clients.push(client);
    const probe = await client.probe();
    expect(probe.ok).toBe(false);
  });
});

/** fetchRecord with a parse thread must give what the event loop gives: the same records, the same errors. */
describe('the PokeAPI client with a parse thread', () => {
  const sims: RunningSimulator[] = [];
  const clients: PokeApiClient[] = [];
  async function setup(opts: SimulatorOptions = {}) {
    const sim = await startSimulator(opts);
    sims.push(sim);
    const client = (parseThreads: number) => {
      const c = new PokeApiClient({ ...limits, baseUrl: sim.url, timeoutMs: 2000, connections: 4, parseThreads });
      clients.push(c);
      return c;
    };
    return { sim, client: client(1), inline: client(0) };
  }
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(sims.map((s) => s.close()));
  });
  const withoutTime = ({ fetchedAt: _, ...rest }: ReturnType<typeof normalizePokemon>) => rest;

  it('returns the record the event loop would have built, for large payloads and small', async () => {
    const { client: threaded, inline } = await setup();
    for (const id of [1, 25, 151, 10001]) {
      const a = await threaded.fetchRecord(id);
      const b = await inline.fetchRecord(id);
      expect(b.threaded).toBe(false);
      expect(a.threaded).toBe(a.wireBytes >= 8 * 1024);
      expect(withoutTime(a.record)).toEqual(withoutTime(b.record));
      const direct = await inline.fetchPokemon(id);
      expect(withoutTime(a.record)).toEqual(withoutTime(normalizePokemon(direct.payload, id, direct.url)));
    }
    expect((await threaded.fetchRecord(151)).threaded).toBe(true); // the largest payload
  });

  it('fails a truncated body as transient and a wrong Pokémon as a bad payload, with its sample', async () => {
    const truncated = await setup({ failFirst: 1, failFirstKind: 'truncate' });
    const err = await truncated.client.fetchRecord(151).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientFetchError);
    expect((err as TransientFetchError).reason).toBe('bad_body');
    await expect(truncated.client.fetchRecord(151)).resolves.toMatchObject({ record: { id: 151 }, threaded: true });

    const wrong = await setup({ failFirst: 1, failFirstKind: 'wrong-id' });
    const bad = await wrong.client.fetchRecord(151).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadPayloadError);
    expect((bad as BadPayloadError).message).toMatch(/payload for id 151 has id \d+ instead; body starts: \{/);
    expect((bad as BadPayloadError).retryable).toBe(false);
  });

  it('fails the tasks still waiting when the pool closes, instead of leaving them hanging', async () => {
    // A thread that never answers: its task can only end by the pool closing.
    const pool = new ParsePool(1, `${__dirname}/fixtures/silent-parse-thread.js`);
    const task = pool.run({ wire: new Uint8Array([1]), encoding: 'identity', contentType: 'application/json', id: 1, url: 'x', maxBodyBytes: limits.maxBodyBytes });
    const failed = expect(task).rejects.toThrow(/parse pool closed/);
    await pool.close();
    await failed;
    await expect(pool.run({ wire: new Uint8Array([1]), encoding: 'identity', contentType: 'application/json', id: 1, url: 'x', maxBodyBytes: limits.maxBodyBytes })).rejects.toThrow(/closed/);
  });

  it('fails the tasks of a thread that dies as transient, and replaces the thread', async () => {
    const pool = new ParsePool(1, `${__dirname}/fixtures/crashing-parse-thread.js`);
    try {
      const task = { wire: new Uint8Array([1]), encoding: 'identity', contentType: 'application/json', id: 1, url: 'x', maxBodyBytes: limits.maxBodyBytes };
      await expect(pool.run(task)).rejects.toThrow(/parse thread failed: exited with code 3/);
      // A new thread took its place: the next task gets an answer (the same failure), not silence.
      await expect(pool.run(task)).rejects.toBeInstanceOf(TransientFetchError);
    } finally {
      await pool.close();
    }
  });
});
