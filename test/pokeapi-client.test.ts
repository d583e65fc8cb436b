import { PokeApiClient } from '../src/pokeapi/client';
import { BadPayloadError, NotFoundError, RateLimitedError, TransientFetchError } from '../src/pokeapi/errors';
import { normalizePokemon } from '../src/pokeapi/normalize';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../src/simulator/server';

/** Real HTTP over loopback against the simulator: each outcome of the fetch policy, one by one. */
describe('the PokeAPI client', () => {
  const sims: RunningSimulator[] = [];
  const clients: PokeApiClient[] = [];
  async function setup(opts: SimulatorOptions = {}, timeoutMs = 2000) {
    const sim = await startSimulator(opts);
    sims.push(sim);
    const client = new PokeApiClient({ baseUrl: sim.url, timeoutMs, connections: 4, keepCompressed: true });
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

  it('lists every id the API serves, paging', async () => {
    const { client } = await setup();
    const ids = await client.listAllIds(500);
    expect(ids).toHaveLength(1351);
    expect(ids[0]).toBe(1);
    expect(ids.at(-1)).toBe(10326);
  });

  it('probes an unreachable API as one clear problem', async () => {
    const client = new PokeApiClient({ baseUrl: 'http://127.0.0.1:1/api/v2', timeoutMs: 1000, connections: 1 });
    clients.push(client);
    const probe = await client.probe();
    expect(probe.ok).toBe(false);
  });
});
