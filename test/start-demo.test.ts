import { runCli } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/** The one-command paths a newcomer takes first: `npm run demo` and `npm start`. */
describe('the one-command start', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('demo runs a batch offline against the simulator, with the dashboard, and exits with its code', async () => {
    const r = await runCli(['demo', '--ids', '1-20', '--exit-when-done', '--latency-ms', '10'], {
      REDIS_URL: redis.url, QUEUE_PREFIX: 'demo', RATE_LIMIT_PER_SECOND: '0', DASHBOARD_PORT: '0', LOG_LEVEL: 'warn',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\/admin\/queues/);
    expect(r.stdout).toContain('20 requested, 20 added');
    expect(r.stdout).toMatch(/succeeded 20, failed 0/);
    expect(await redis.client.hlen('demo:records')).toBe(20);
  });

  it('demo keeps its simulated records apart from real ones unless QUEUE_PREFIX says otherwise', async () => {
    const r = await runCli(['demo', '--ids', '1-3', '--exit-when-done', '--latency-ms', '0'], {
      REDIS_URL: redis.url, RATE_LIMIT_PER_SECOND: '0', DASHBOARD_PORT: '0', LOG_LEVEL: 'warn',
    });
    expect(r.code).toBe(0);
    expect(await redis.client.hlen('pokequeue-demo:records')).toBe(3);
    expect(await redis.client.exists('pokequeue:records')).toBe(0);
  });

  it('start says once, clearly, that the API cannot be reached, and points to the demo', async () => {
    const r = await runCli(['start', '--exit-when-done'], {
      REDIS_URL: redis.url, QUEUE_PREFIX: 'offline', POKEAPI_URL: 'http://127.0.0.1:1/api/v2', HTTP_TIMEOUT_MS: '1000', DASHBOARD_PORT: '0', LOG_LEVEL: 'warn',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the PokeAPI at http:\/\/127\.0\.0\.1:1\/api\/v2/);
    expect(r.stderr).toContain('npm run demo');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Nothing was enqueued: no 151 jobs failing one by one.
    expect(await redis.client.exists('offline:pokemon:wait')).toBe(0);
  });
});
