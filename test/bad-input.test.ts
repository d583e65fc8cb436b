import type { Redis } from 'ioredis';
import { runCli } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/**
 * Junk to every command: each answers with one clear line and exit code 2, prints no stack trace,
 * and leaves Redis exactly as it was (HTTP junk is in the dashboard specs).
 */
describe('bad input everywhere', () => {
  let redis: TestRedis;
  let env: Record<string, string>;
  let before: Record<string, string>;

  async function dump(client: Redis): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const key of (await client.keys('*')).sort()) out[key] = (await client.dumpBuffer(key))?.toString('base64') ?? '';
    return out;
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    env = { REDIS_URL: redis.url, POKEAPI_URL: 'http://127.0.0.1:1/api/v2', QUEUE_PREFIX: 'junk', LOG_LEVEL: 'warn' };
    // Something to protect: a stored record and a batch.
    await redis.client.hset('junk:records', '1', '{"id":1,"name":"x"}');
    await redis.client.hset('junk:names', 'x', '1');
    before = await dump(redis.client);
  });
  afterAll(async () => {
    await redis.stop();
  });

  it.each([
    // (`abc` is a name now: whether a Pokémon has it is the API's list's question, see library.test.ts)
    [['enqueue', 'ab$c']],
    [['enqueue', '1-10', 'pika chu']],
    [['enqueue', '0']],
    [['enqueue', '5-1']],
    [['enqueue', '1-']],
    [['enqueue', '1,,2']],
    [['enqueue', '123456789012345678901234567890']],
    [['enqueue']],
    [['enqueue', '1', '--unknown']],
    [['worker', '--concurrency', 'many']],
    [['worker', '--concurrency', '0']],
    [['get']],
    [['get', '../../etc/passwd']],
    [['get', '0']],
    [['export', '--format', 'yaml']],
    [['export', '--out', '/tmp']],
    [['start', '--ids', 'ab$c']],
    [['demo', '--latency-ms', '-3']],
    [['demo', '--ids', 'all']],
    [['sim-api', '--latency-ms', 'abc']],
    [['sim-api', '--error-rate', '2']],
    [['sim-api', '--fail-first-kind', 'explode', '--fail-first', '1']],
    [['frobnicate']],
  ])('pokequeue %j exits 2 with a clear error and changes nothing', async (args) => {
    const r = await runCli(args, env, 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await dump(redis.client)).toEqual(before);
  });

  it.each([
    ['WORKER_CONCURRENCY', 'lots', ['status']],
    ['RATE_LIMIT_PER_SECOND', '-1', ['worker']],
    ['HTTP_TIMEOUT_MS', '5s', ['enqueue', '1']],
    ['JOB_ATTEMPTS', '0', ['enqueue', '1']],
    ['QUEUE_PREFIX', 'a b', ['status']],
    ['REDIS_URL', 'localhost:6379', ['status']],
    ['POKEAPI_URL', 'pokeapi.co', ['enqueue', '1']],
    ['STORE_RAW', 'perhaps', ['worker']],
    ['LOG_LEVEL', 'chatty', ['status']],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:99999', ['status']],
    ['POKEAPI_URL', 'http://127.0.0.1:1/api/v2?limit=5', ['enqueue', '1']],
    ['POKEAPI_URL', 'http://127.0.0.1:1/api/v2#top', ['worker']],
    ['HTTP_MAX_WIRE_BYTES', '4MB', ['worker']],
    ['HTTP_MAX_BODY_BYTES', '0', ['enqueue', 'all']],
    ['DASHBOARD_ALLOWED_HOSTS', 'proxy.example:8080', ['dashboard', '--port', '0']],
  ])('%s=%j names the variable, exits 2 and changes nothing', async (variable, value, args) => {
    const r = await runCli(args as string[], { ...env, [variable]: value }, 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(variable);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await dump(redis.client)).toEqual(before);
  });

  it.each([['/abc'], ['/-1'], ['/1/2'], ['/0x1']])('REDIS_URL ending in %s (not a database number) exits 2 before anything is written', async (path) => {
    for (const args of [['enqueue', '1'], ['worker'], ['status']]) {
      const r = await runCli(args, { ...env, REDIS_URL: `${redis.url}${path}` }, 20_000);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr).toMatch(/^error: REDIS_URL: must end in a database number such as \/0/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await dump(redis.client)).toEqual(before);
  });
});
