import { hostname } from 'node:os';
import { Queue } from 'bullmq';
import { parseDashboardConfig } from '../src/config/dashboard-variables';
import { ConfigError } from '../src/config/errors';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { DURATION_BUCKETS_MS } from '../src/stats/buckets';
import type { PokemonRecord } from '../src/types';
import { runCli, startDashboard, startWorker, type DashboardProcess, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';

const PREFIX = 'dash-http';
/** Every fetch takes at least this long, so no fetch lands in the buckets below it. */
const LATENCY_MS = 40;
/** 1-3 are stored already, 4-6 get fetched, 20001-20002 are ids the API does not know (404). */
const SPEC = '1-6,20001-20002';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = any>(): T;
}

async function request(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(base + path, { redirect: 'manual', ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

function pokemon(id: number, name: string): PokemonRecord {
  return {
    id, name, height: 7, weight: 69, baseExperience: 64, order: id, isDefault: true, species: name, types: ['grass'],
    abilities: [{ name: 'overgrow', hidden: false }], stats: { hp: 45 }, sprite: null, moveCount: 10,
    fetchedAt: new Date(0).toISOString(), sourceUrl: `http://sim/pokemon/${id}/`,
  };
}

/**
 * `pokequeue dashboard` processes (the shipped CLI) over HTTP, in front of what a real batch left
 * in Redis: a worker process fetched it from the simulated API.
 */
describe('the dashboard over HTTP', () => {
  let redis: TestRedis;
  let sim: RunningSimulator;
  let env: Record<string, string>;
  let worker: WorkerProcess;
  let queue: Queue;
  let open: DashboardProcess;
  let locked: DashboardProcess;
  let readOnly: DashboardProcess;
  let batchId: string;
  const started: WorkerProcess[] = [];
  /** Keeps each process started, so that afterAll stops it even when another one failed to start. */
  const track = <T extends WorkerProcess>(p: Promise<T>): Promise<T> => {
    void p.then((x) => started.push(x), () => undefined);
    return p;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    // Three records already stored, written where the store keeps them: the batch skips them.
    for (const [id, name] of [[1, 'bulbasaur'], [2, 'ivysaur'], [3, 'venusaur']] as const) {
      await redis.client.hset(`${PREFIX}:records`, String(id), JSON.stringify(pokemon(id, name)));
      await redis.client.hset(`${PREFIX}:names`, name, String(id));
    }
    sim = await startSimulator({ latencyMs: LATENCY_MS });
    env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: PREFIX, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
    queue = new Queue('pokemon', { connection: redis.client, prefix: PREFIX });
    [worker, open, locked, readOnly] = await Promise.all([
      track(startWorker({ ...env, LOG_LEVEL: 'info' }, ['--concurrency', '5'])),
      track(startDashboard(env)),
      track(startDashboard({ ...env, DASHBOARD_USER: 'ash', DASHBOARD_PASSWORD: 'pika:chu' })),
      track(startDashboard({ ...env, DASHBOARD_READ_ONLY: 'true' })),
    ]);
    // The 404s fail the batch (exit 1), as they should: bull-board has failed jobs to show.
    const run = await runCli(['enqueue', SPEC, '--wait', '--json'], env);
    expect(run.code).toBe(1);
    batchId = (JSON.parse(run.stdout) as { batchId: string }).batchId;
    // The batch's counters are exact at once; the fleet statistics the worker flushes every second.
    await until(async () => Number(await redis.client.hget(`${PREFIX}:stats:totals`, 'completed')) + Number(await redis.client.hget(`${PREFIX}:stats:totals`, 'failed')) === 5, 5000, "the worker's statistics flush");
    // And its heartbeat (every 2 s) has counted them.
    await until(async () => Object.values(await redis.client.hgetall(`${PREFIX}:workers`)).some((j) => {
      const hb = JSON.parse(j) as { completed: number; failed: number; inFlight: number };
      return hb.completed + hb.failed === 5 && hb.inFlight === 0;
    }), 5000, "the worker's heartbeat");
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await queue?.close();
    await sim?.close();
    await redis?.stop();
  });

  describe('without credentials configured', () => {
    it('should redirect / to bull-board', async () => {
      const res = await request(open.url, '/');
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/admin/queues');
    });

    it('should serve bull-board with its title, metrics on, and links to the other pages', async () => {
      const page = await request(open.url, '/admin/queues');
      expect(page.status).toBe(200);
      const uiConfig = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(page.text)![1]!);
      expect(uiConfig.boardTitle).toBe('pokequeue');
      expect(uiConfig.showMetrics).toBe(true);
      expect(uiConfig.miscLinks.map((l: { url: string }) => l.url)).toEqual(['/stats', '/metrics', '/api/stats']);

      const queues = (await request(open.url, '/admin/queues/api/queues')).json<{ queues: { name: string; readOnlyMode: boolean; counts: Record<string, number> }[] }>();
      expect(queues.queues).toHaveLength(1);
      expect(queues.queues[0]).toMatchObject({ name: 'pokemon', readOnlyMode: false });
      expect(queues.queues[0]!.counts.failed).toBe(2);
    });

    it('should serve /stats and everything it loads from the package itself, never a CDN', async () => {
      const page = await request(open.url, '/stats');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => /\.(js|css)$/.test(u));
      expect(assets.sort()).toEqual(['/static/chart.umd.js', '/static/stats.css', '/static/stats.js']);
      for (const asset of assets) {
        const res = await request(open.url, asset);
        expect(res.status).toBe(200);
        expect(res.text.length).toBeGreaterThan(1000);
      }
      expect((await request(open.url, '/static/chart.umd.js')).headers.get('content-type')).toMatch(/javascript/);
    });

    it('should answer /api/stats with throughput, timing percentiles, batches and workers from Redis', async () => {
      const asked = Date.now();
      const stats = (await request(open.url, '/api/stats')).json();
      const answered = Date.now();
      expect(stats.queue).toMatchObject({ stored: 6, paused: false });
      expect(stats.queue.counts.failed).toBe(2);
      expect(stats.totals).toEqual({ completed: 3, failed: 2, retries: 0, failedByReason: { not_found: 2 } });

      // All five finished just now: in the last minute or two (a minute may have turned since), and in the "now" window.
      const perMinute = stats.throughput.perMinute as { completed: number; failed: number }[];
      expect(perMinute).toHaveLength(60);
      const sum = (ms: typeof perMinute, k: 'completed' | 'failed') => ms.reduce((n, m) => n + m[k], 0);
      expect([sum(perMinute.slice(58), 'completed'), sum(perMinute.slice(58), 'failed')]).toEqual([3, 2]);
      expect(sum(perMinute.slice(0, 58), 'completed') + sum(perMinute.slice(0, 58), 'failed')).toBe(0);
      // Five jobs over the window the figure covers: 10 s plus the current five-second slot so far.
      expect(stats.throughput.jobsPerSecond * stats.throughput.nowWindowSeconds).toBeCloseTo(5);
      expect(stats.throughput.nowWindowSeconds).toBeGreaterThanOrEqual(10);
      expect(stats.throughput.nowWindowSeconds).toBeLessThanOrEqual(15);

      // Percentiles of what the worker recorded; fetch only for the three found (a 404 has no fetch time).
      expect(stats.timing.window).toMatchObject({ jobs: 5, cached: 0 });
      expect(stats.timing.fetch.count).toBe(3);
      expect(stats.timing.total.count).toBe(5);
      expect(stats.timing.wait.count).toBe(5);
      for (const phase of ['wait', 'fetch', 'total']) {
        const p = stats.timing[phase];
        expect([phase, p.p50 <= p.p95 && p.p95 <= p.p99 && p.p99 <= p.max]).toEqual([phase, true]);
      }
      // The simulator answers after LATENCY_MS: no fetch is quicker, and a job takes longer than its fetch.
      expect(stats.timing.fetch.p50).toBeGreaterThanOrEqual(LATENCY_MS);
      expect(stats.timing.fetch.max).toBeLessThan(5000);
      expect(stats.timing.total.max).toBeGreaterThanOrEqual(stats.timing.fetch.max);
      const histogram = stats.timing.histogram as Record<'wait' | 'fetch' | 'total', number[]> & { upperBoundsMs: (number | null)[] };
      expect(histogram.upperBoundsMs).toEqual([...DURATION_BUCKETS_MS, null]);
      expect(histogram.fetch.reduce((a, b) => a + b, 0)).toBe(3);
      expect(histogram.total.reduce((a, b) => a + b, 0)).toBe(5);
      // Every fetch sits in the bucket that holds its time: none in those that end below the latency.
      DURATION_BUCKETS_MS.forEach((le, i) => {
        if (le < LATENCY_MS) expect([le, histogram.fetch[i]]).toEqual([le, 0]);
      });

      expect(stats.batches).toHaveLength(1);
      expect(stats.batches[0]).toMatchObject({
        batchId, spec: SPEC, added: 5, stored: 3, completed: 3, failed: 2, done: 5, progress: 1, etaSeconds: null,
        failures: { not_found: 2 },
      });
      expect(stats.batches[0].finishedAt).not.toBeNull();

      // The worker process, from its own heartbeat: idle now, with the batch's five jobs to its name.
      expect(stats.workers).toMatchObject({ live: 1, hosts: 1, concurrency: 5, inFlight: 0 });
      const w = stats.workers.list[0];
      expect(w).toMatchObject({ id: `${hostname()}:${worker.child.pid}`, host: hostname(), pid: worker.child.pid });
      // Younger than a minute, so its rate is its five jobs over its age when it sent that heartbeat
      // (a second at least), not over the whole minute.
      const rateOverAge = (age: number) => 5000 / Math.min(60_000, Math.max(1000, age));
      expect(w.jobsPerSecond).toBeGreaterThanOrEqual(rateOverAge(w.lastSeen - w.startedAt + 50));
      expect(w.jobsPerSecond).toBeLessThanOrEqual(rateOverAge(w.lastSeen - w.startedAt - 50));
      expect(w.lastSeen).toBeLessThanOrEqual(answered);
    });

    it('should export cluster-wide counters and cumulative duration buckets on /metrics', async () => {
      const res = await request(open.url, '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = res.text;
      const sample = (series: string) => Number(new RegExp(`^${series.replace(/[{}+.]/g, '\\$&')} (\\S+)$`, 'm').exec(m)?.[1]);
      expect(m).toContain('# TYPE pokequeue_jobs_completed_total counter\npokequeue_jobs_completed_total 3\n');
      expect(m).toContain('pokequeue_jobs_failed_total{reason="not_found"} 2');
      expect(m).toContain('# TYPE pokequeue_job_duration_seconds histogram');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="0.025",phase="fetch"} 0');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="+Inf",phase="fetch"} 3');
      expect(m).toContain('pokequeue_job_duration_seconds_count{phase="total"} 5');
      // The same histogram as /api/stats, cumulative, in seconds.
      const histogram = (await request(open.url, '/api/stats')).json().timing.histogram as Record<string, number[]>;
      for (const phase of ['wait', 'fetch', 'total']) {
        let cumulative = 0;
        DURATION_BUCKETS_MS.forEach((ms, i) => {
          cumulative += histogram[phase]![i]!;
          const series = `pokequeue_job_duration_seconds_bucket{le="${ms / 1000}",phase="${phase}"}`;
          expect([series, sample(series)]).toEqual([series, cumulative]);
        });
      }
      const fetchSum = sample('pokequeue_job_duration_seconds_sum{phase="fetch"}');
      expect(fetchSum).toBeGreaterThanOrEqual((3 * LATENCY_MS) / 1000);
      expect(fetchSum).toBeLessThan(15);
      expect(m).toContain('pokequeue_queue_jobs{state="failed"} 2');
      expect(m).toContain('pokequeue_workers 1');
      expect(m).toContain('process_cpu_user_seconds_total');
    });

    it('should serve a stored record by id and by name, in any case', async () => {
      expect((await request(open.url, '/api/pokemon/2')).json()).toMatchObject({ id: 2, name: 'ivysaur' });
      expect((await request(open.url, '/api/pokemon/Venusaur')).json()).toMatchObject({ id: 3 });
    });

    it('should answer 404 with a JSON error for a record not stored', async () => {
      const res = await request(open.url, '/api/pokemon/151');
      expect(res.status).toBe(404);
      expect(res.json().error).toMatch(/no stored Pokémon "151"/);
    });

    it('should page through stored records in id order', async () => {
      const first = (await request(open.url, '/api/pokemon?limit=4')).json();
      expect(first).toMatchObject({ total: 6, offset: 0, limit: 4, next: '/api/pokemon?offset=4&limit=4' });
      expect(first.records.map((r: PokemonRecord) => r.id)).toEqual([1, 2, 3, 4]);
      const last = (await request(open.url, first.next)).json();
      expect(last.records.map((r: PokemonRecord) => r.id)).toEqual([5, 6]);
      expect(last.next).toBeNull();
    });

    it.each([
      ['/api/pokemon?limit=0', /limit/],
      ['/api/pokemon?limit=1001', /limit/],
      ['/api/pokemon?limit=ten', /limit/],
      ['/api/pokemon?offset=-1', /offset/],
      ['/api/pokemon?offset=1&offset=2', /offset.*several values/],
      ['/api/pokemon/0', /id must be/],
      ['/api/pokemon/mr%20mime', /id \(25\) or name/],
      ['/api/pokemon/%3Cscript%3E', /id \(25\) or name/],
    ])('should refuse %s with a 400 and a JSON error', async (path, message) => {
      const res = await request(open.url, path);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.json().error).toMatch(message);
    });

    it('should answer unknown API paths with a JSON 404', async () => {
      const res = await request(open.url, '/api/nothing-here');
      expect(res.status).toBe(404);
      expect(res.json().error).toMatch(/no such endpoint/);
    });

    it('should report itself healthy and ready', async () => {
      expect((await request(open.url, '/healthz')).status).toBe(200);
      expect((await request(open.url, '/readyz')).json()).toEqual({ status: 'ready', redis: 'ok' });
    });

    it('should refuse a change that a browser says comes from another site', async () => {
      const res = await request(open.url, '/admin/queues/api/queues/pokemon/retry/failed', {
        method: 'PUT',
        headers: { origin: 'https://evil.example' },
      });
      expect(res.status).toBe(403);
      expect((await queue.getJobCounts('failed')).failed).toBe(2);
    });
  });

  describe('with DASHBOARD_USER and DASHBOARD_PASSWORD set', () => {
    it.each(['/', '/admin/queues', '/admin/queues/api/queues', '/stats', '/static/stats.js', '/static/chart.umd.js', '/api/stats', '/api/pokemon/1', '/api/pokemon', '/metrics'])(
      'should ask for credentials on %s',
      async (path) => {
        const res = await request(locked.url, path);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Basic realm="pokequeue"');
      },
    );

    it.each([
      ['a wrong password', basic('ash', 'pikachu')],
      ['a wrong user', basic('misty', 'pika:chu')],
      ['an empty password', basic('ash', '')],
      ['another scheme', { authorization: 'Bearer pika:chu' }],
      ['garbage', { authorization: 'Basic !!!' }],
    ])('should refuse %s', async (_what, headers) => {
      expect((await request(locked.url, '/api/stats', { headers })).status).toBe(401);
    });

    it('should let the right user in everywhere (a password may contain colons)', async () => {
      const headers = basic('ash', 'pika:chu');
      for (const path of ['/admin/queues', '/stats', '/api/stats', '/api/pokemon/1', '/metrics']) {
        expect([path, (await request(locked.url, path, { headers })).status]).toEqual([path, 200]);
      }
    });

    it('should leave the health checks open', async () => {
      expect((await request(locked.url, '/healthz')).status).toBe(200);
      expect((await request(locked.url, '/readyz')).status).toBe(200);
    });
  });

  describe('with DASHBOARD_READ_ONLY=true', () => {
    it('should show the failed jobs', async () => {
      const queues = (await request(readOnly.url, '/admin/queues/api/queues?activeQueue=pokemon&status=failed')).json();
      expect(queues.queues[0]).toMatchObject({ name: 'pokemon', readOnlyMode: true });
      expect(queues.queues[0].jobs).toHaveLength(2);
    });

    it.each([
      ['retry every failed job', '/admin/queues/api/queues/pokemon/retry/failed'],
      ['retry one job', '/admin/queues/api/queues/pokemon/pokemon-20001/retry'],
      ['remove one job', '/admin/queues/api/queues/pokemon/pokemon-20001/clean'],
      ['clean the failed jobs', '/admin/queues/api/queues/pokemon/clean/failed'],
      ['pause the queue', '/admin/queues/api/queues/pokemon/pause'],
    ])('should refuse to %s', async (_what, path) => {
      const res = await request(readOnly.url, path, { method: 'PUT' });
      expect(res.status).toBe(405);
      expect((await queue.getJobCounts('failed')).failed).toBe(2);
      expect(await queue.isPaused()).toBe(false);
    });

    it('should let the same request through when not read-only', async () => {
      const notFound = sim.stats().byStatus['404']!;
      const res = await request(open.url, '/admin/queues/api/queues/pokemon/pokemon-20002/retry', { method: 'PUT' });
      expect(res.status).toBeLessThan(300);
      // The worker runs the job again: the API is asked once more, and the id is still unknown.
      await until(() => sim.stats().byStatus['404'] === notFound + 1, 10_000, 'the retried job to be fetched again');
      await until(async () => (await queue.getJobState('pokemon-20002')) === 'failed', 10_000, 'the retried job to fail again');
    });
  });

  describe('when Redis is gone', () => {
    it('should stay healthy but not ready, and say so on the API', async () => {
      const lonely = await startTestRedis();
      lonely.client.disconnect();
      const dashboard = await track(startDashboard({ REDIS_URL: lonely.url, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'warn' }));
      try {
        expect((await request(dashboard.url, '/readyz')).status).toBe(200);
        await lonely.server.stop();
        const ready = await request(dashboard.url, '/readyz');
        expect(ready.status).toBe(503);
        expect(ready.json().status).toBe('unavailable');
        expect((await request(dashboard.url, '/healthz')).status).toBe(200);
        const stats = await request(dashboard.url, '/api/stats');
        expect(stats.status).toBe(503);
        expect(stats.json().error).toMatch(/Redis is unavailable/);
      } finally {
        await dashboard.stop();
        await lonely.server.stop();
      }
    });
  });

  describe('settings', () => {
    it('should listen on 127.0.0.1:3000 without auth by default', () => {
      expect(parseDashboardConfig({})).toEqual({
        dashboardPort: 3000, dashboardHost: '127.0.0.1', dashboardUser: undefined, dashboardPassword: undefined,
        dashboardReadOnly: false, dashboardAllowAnonymous: false,
      });
    });

    it('should let a flag beat the environment', () => {
      expect(parseDashboardConfig({ DASHBOARD_PORT: '4000' }, { dashboardPort: { value: '5000', flag: '--port' } }).dashboardPort).toBe(5000);
    });

    it.each([
      [{ DASHBOARD_USER: 'ash' }, 'DASHBOARD_PASSWORD'],
      [{ DASHBOARD_PASSWORD: 'secret' }, 'DASHBOARD_USER'],
      [{ DASHBOARD_PORT: '70000' }, 'DASHBOARD_PORT'],
      [{ DASHBOARD_READ_ONLY: 'sometimes' }, 'DASHBOARD_READ_ONLY'],
      [{ DASHBOARD_HOST: 'not a host' }, 'DASHBOARD_HOST'],
      [{ DASHBOARD_USER: 'a:b', DASHBOARD_PASSWORD: 'secret' }, 'DASHBOARD_USER'],
    ])('should name the variable to fix in %j', (env, variable) => {
      expect(() => parseDashboardConfig(env)).toThrow(ConfigError);
      expect(() => parseDashboardConfig(env)).toThrow(new RegExp(`^${variable}:`));
    });

    it('should refuse a non-loopback address without credentials, naming the way out', () => {
      for (const host of ['0.0.0.0', '::', '192.168.1.10', 'dashboard.example']) {
        expect(() => parseDashboardConfig({ DASHBOARD_HOST: host })).toThrow(/DASHBOARD_USER and DASHBOARD_PASSWORD.*DASHBOARD_ALLOW_ANONYMOUS/);
      }
      expect(() => parseDashboardConfig({}, { dashboardHost: { value: '0.0.0.0', flag: '--host' } })).toThrow(/^--host:/);
      for (const host of ['localhost', '127.0.0.2', '::1']) expect(parseDashboardConfig({ DASHBOARD_HOST: host }).dashboardHost).toBe(host);
      expect(parseDashboardConfig({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_USER: 'ash', DASHBOARD_PASSWORD: 'x' }).dashboardHost).toBe('0.0.0.0');
      expect(parseDashboardConfig({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_ALLOW_ANONYMOUS: 'true' }).dashboardHost).toBe('0.0.0.0');
    });

    it('should never echo a password in an error', () => {
      expect(() => parseDashboardConfig({ DASHBOARD_USER: 'ash', DASHBOARD_PASSWORD: 'x'.repeat(2000) })).toThrow(/DASHBOARD_PASSWORD/);
      try {
        parseDashboardConfig({ DASHBOARD_USER: 'ash', DASHBOARD_PASSWORD: 'x'.repeat(2000) });
      } catch (err) {
        expect((err as Error).message).not.toContain('xxxx');
      }
    });
  });

  describe('the dashboard command', () => {
    it('should refuse to listen on a non-loopback address without credentials, exit 2', async () => {
      const res = await runCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], { REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'warn' });
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/error: --host: refusing to listen on 0\.0\.0\.0 without credentials/);
    });

    it('should print its URL, serve, and exit 0 on SIGTERM', async () => {
      // open is such a process: it printed `dashboard: <url>/admin/queues (stats: /stats)` and serves.
      expect(open.output()).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/admin\/queues \(stats: \/stats\)$/m);
      const extra = await track(startDashboard({ REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'warn' }));
      expect((await request(extra.url, '/healthz')).status).toBe(200);
      expect(await extra.stop('SIGTERM')).toBe(0);
    });
  });
});
