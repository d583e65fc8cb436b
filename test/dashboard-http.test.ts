import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { UnrecoverableError, Worker } from 'bullmq';
import { openContext, type AppContext } from '../src/cli/context';
import { parseDashboardConfig, type DashboardConfig } from '../src/config/dashboard-variables';
import { ConfigError } from '../src/config/errors';
import { parseConfig } from '../src/config/load';
import { startDashboard, type RunningDashboard } from '../src/dashboard/server';
import { createLogger } from '../src/log';
import { enqueueBatch } from '../src/queue/producer';
import { WorkerHeartbeatPublisher } from '../src/queue/worker-heartbeat';
import { GroupCommit } from '../src/queue/group-commit';
import { OutcomeCount } from '../src/redis/scripts';
import { FleetStatsRecorder } from '../src/stats/recorder';
import { createRedis } from '../src/redis/connection';
import { QUEUE_NAME } from '../src/redis/schema';
import type { LocalRedisServer } from '../src/redis/local-server';
import type { PokemonRecord } from '../src/types';
import { cliEnv } from './helpers/processes';
import { startTestRedis } from './helpers/redis';

const PREFIX = 'dash-http';
const WORKER_ID = 'test-host:4242';
const log = createLogger('silent');

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

function dashboardConfig(env: Record<string, string> = {}): DashboardConfig {
  return parseDashboardConfig({ DASHBOARD_PORT: '0', ...env });
}

describe('the dashboard over HTTP', () => {
  let redisServer: LocalRedisServer;
  let redisUrl: string;
  let ctx: AppContext;
  let open: RunningDashboard;
  let heartbeat: WorkerHeartbeatPublisher;
  let batchId: string;
  const started: RunningDashboard[] = [];

  const start = async (env: Record<string, string> = {}, context: AppContext = ctx) => {
    const dashboard = await startDashboard({ ...context, dashboard: dashboardConfig(env) });
    started.push(dashboard);
    return dashboard;
  };

  beforeAll(async () => {
    const redis = await startTestRedis();
    redisServer = redis.server;
    redisUrl = redis.url;
    redis.client.disconnect();
    ctx = await openContext(parseConfig({ REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX }), log, { startup: 'fail-fast' });

    // Three records already stored; a batch of 1-8 adds jobs for the five others.
    for (const [id, name] of [[1, 'bulbasaur'], [2, 'ivysaur'], [3, 'venusaur']] as const) await ctx.store.put(pokemon(id, name));
    batchId = (await enqueueBatch(ctx, { ids: [1, 2, 3, 4, 5, 6, 7, 8], refresh: false, spec: '1-8' })).batchId;

    // A real BullMQ worker fails all five, so bull-board has failed jobs to retry or remove.
    const connection = createRedis(ctx.config, { startup: 'fail-fast', forWorker: true, log });
    const failing = new Worker(QUEUE_NAME, async () => {
      throw new UnrecoverableError('simulated: no such Pokémon');
    }, { connection, prefix: PREFIX, concurrency: 5 });
    await new Promise<void>((done) => {
      const check = async () => ((await ctx.queue.getJobCounts('failed')).failed === 5 ? done() : setTimeout(check, 50));
      void check();
    });
    await failing.close();
    connection.disconnect();

    // What workers record about those jobs: three completed with known timings, two not found.
    const timings = [
      { id: 4, outcome: 'completed', waitMs: 100, fetchMs: 10, totalMs: 110 },
      { id: 5, outcome: 'completed', waitMs: 200, fetchMs: 20, totalMs: 220 },
      { id: 6, outcome: 'completed', waitMs: 300, fetchMs: 30, totalMs: 330 },
      { id: 7, outcome: 'failed', reason: 'not_found', waitMs: 400, totalMs: 1000 },
      { id: 8, outcome: 'failed', reason: 'not_found', waitMs: 500, totalMs: 2000 },
    ] as const;
    const commits = new GroupCommit(ctx.redis, ctx.store, ctx.batches);
    const stats = new FleetStatsRecorder(ctx.redis, PREFIX, log);
    for (const t of timings) {
      const job = { ...t, batchId, cached: false, attemptsMade: 0 };
      if ((await commits.commit({ job })) !== OutcomeCount.duplicate) stats.record(job);
    }
    await stats.flush();
    heartbeat = new WorkerHeartbeatPublisher(ctx.redis, PREFIX, () => ({
      id: WORKER_ID, host: 'test-host', pid: 4242, concurrency: 5, startedAt: Date.now() - 120_000, lastSeen: Date.now(),
      completed: 3, failed: 2, inFlight: 1, jobsPerSecond: 0.05,
    }));
    heartbeat.start();

    open = await start();
  });

  afterAll(async () => {
    for (const d of started) await d.close();
    await heartbeat?.stop();
    await ctx?.close();
    await redisServer?.stop();
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
      expect(queues.queues[0]!.counts.failed).toBe(5);
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
      const stats = (await request(open.url, '/api/stats')).json();
      expect(stats.queue).toMatchObject({ stored: 3, paused: false });
      expect(stats.queue.counts.failed).toBe(5);
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

      // Nearest-rank percentiles of the recorded values, from histograms: exact below 100 ms, within
      // 5% above (stats/histogram.ts); fetch only where a request was made.
      const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.05);
      expect(stats.timing.window).toMatchObject({ jobs: 5, cached: 0 });
      expect(stats.timing.fetch).toEqual({ count: 3, p50: 20, p95: 30, p99: 30, max: 30 });
      expect(stats.timing.total.count).toBe(5);
      near(stats.timing.total.p50, 330);
      near(stats.timing.total.p95, 2000);
      near(stats.timing.total.max, 2000);
      near(stats.timing.wait.p50, 300);
      // fetch 10 ms falls in the ≤10 ms bucket, 20 in ≤25, 30 in ≤50.
      expect(stats.timing.histogram.fetch.slice(0, 4)).toEqual([0, 1, 1, 1]);
      expect(stats.timing.histogram.upperBoundsMs.at(-1)).toBeNull();

      expect(stats.batches).toHaveLength(1);
      expect(stats.batches[0]).toMatchObject({
        batchId, spec: '1-8', added: 5, stored: 3, completed: 3, failed: 2, done: 5, progress: 1, etaSeconds: null,
        failures: { not_found: 2 },
      });
      expect(stats.batches[0].finishedAt).not.toBeNull();

      expect(stats.workers).toMatchObject({ live: 1, hosts: 1, concurrency: 5, inFlight: 1 });
      expect(stats.workers.list[0]).toMatchObject({ id: WORKER_ID, host: 'test-host', pid: 4242 });
      expect(stats.workers.list[0].jobsPerSecond).toBeCloseTo(0.05); // as its heartbeat says
    });

    it('should export cluster-wide counters and cumulative duration buckets on /metrics', async () => {
      const res = await request(open.url, '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = res.text;
      expect(m).toContain('# TYPE pokequeue_jobs_completed_total counter\npokequeue_jobs_completed_total 3\n');
      expect(m).toContain('pokequeue_jobs_failed_total{reason="not_found"} 2');
      expect(m).toContain('# TYPE pokequeue_job_duration_seconds histogram');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="0.005",phase="fetch"} 0');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="0.01",phase="fetch"} 1');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="0.025",phase="fetch"} 2');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="0.05",phase="fetch"} 3');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="+Inf",phase="fetch"} 3');
      expect(m).toContain('pokequeue_job_duration_seconds_sum{phase="fetch"} 0.06');
      expect(m).toContain('pokequeue_job_duration_seconds_count{phase="total"} 5');
      expect(m).toContain('pokequeue_job_duration_seconds_bucket{le="1",phase="total"} 4');
      expect(m).toContain('pokequeue_queue_jobs{state="failed"} 5');
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
      const first = (await request(open.url, '/api/pokemon?limit=2')).json();
      expect(first).toMatchObject({ total: 3, offset: 0, limit: 2, next: '/api/pokemon?offset=2&limit=2' });
      expect(first.records.map((r: PokemonRecord) => r.id)).toEqual([1, 2]);
      const last = (await request(open.url, first.next)).json();
      expect(last.records.map((r: PokemonRecord) => r.id)).toEqual([3]);
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
      expect((await ctx.queue.getJobCounts('failed')).failed).toBe(5);
    });
  });

  describe('with DASHBOARD_USER and DASHBOARD_PASSWORD set', () => {
    let locked: RunningDashboard;
    beforeAll(async () => {
      locked = await start({ DASHBOARD_USER: 'ash', DASHBOARD_PASSWORD: 'pika:chu' });
    });

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
    let readOnly: RunningDashboard;
    beforeAll(async () => {
      readOnly = await start({ DASHBOARD_READ_ONLY: 'true' });
    });

    it('should show the failed jobs', async () => {
      const queues = (await request(readOnly.url, '/admin/queues/api/queues?activeQueue=pokemon&status=failed')).json();
      expect(queues.queues[0]).toMatchObject({ name: 'pokemon', readOnlyMode: true });
      expect(queues.queues[0].jobs).toHaveLength(5);
    });

    it.each([
      ['retry every failed job', '/admin/queues/api/queues/pokemon/retry/failed'],
      ['retry one job', '/admin/queues/api/queues/pokemon/pokemon-4/retry'],
      ['remove one job', '/admin/queues/api/queues/pokemon/pokemon-4/clean'],
      ['clean the failed jobs', '/admin/queues/api/queues/pokemon/clean/failed'],
      ['pause the queue', '/admin/queues/api/queues/pokemon/pause'],
    ])('should refuse to %s', async (_what, path) => {
      const res = await request(readOnly.url, path, { method: 'PUT' });
      expect(res.status).toBe(405);
      expect((await ctx.queue.getJobCounts('failed')).failed).toBe(5);
      expect(await ctx.queue.isPaused()).toBe(false);
    });

    it('should let the same request through when not read-only', async () => {
      const res = await request(open.url, '/admin/queues/api/queues/pokemon/pokemon-8/retry', { method: 'PUT' });
      expect(res.status).toBeLessThan(300);
      expect(await ctx.queue.getJobState('pokemon-8')).toBe('waiting');
    });
  });

  describe('when Redis is gone', () => {
    it('should stay healthy but not ready, and say so on the API', async () => {
      const lonely = await startTestRedis();
      lonely.client.disconnect();
      const lonelyCtx = await openContext(parseConfig({ REDIS_URL: lonely.url, QUEUE_PREFIX: PREFIX }), log, { startup: 'fail-fast' });
      try {
        const dashboard = await start({}, lonelyCtx);
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
        await lonelyCtx.close();
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
      const res = await runDashboardCommand(['--host', '0.0.0.0', '--port', '0'], { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX });
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/error: --host: refusing to listen on 0\.0\.0\.0 without credentials/);
    });

    it('should print its URL, serve, and exit 0 on SIGTERM', async () => {
      const res = await runDashboardCommand(['--port', '0'], { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX }, async (stdout) => {
        const url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+)\/admin\/queues \(stats: \/stats\)$/m.exec(stdout)?.[1];
        expect(url).toBeDefined();
        expect((await request(url!, '/healthz')).status).toBe(200);
      });
      expect(res.code).toBe(0);
    });
  });
});

/**
 * Runs `pokequeue dashboard` from the built CLI. Until main.ts registers the command, a tiny
 * entry point adds it to the same program. `whileUp` runs once the URL is printed; then SIGTERM.
 */
function runDashboardCommand(
  args: string[],
  env: Record<string, string>,
  whileUp?: (stdout: string) => Promise<void>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dist = resolve(__dirname, '../dist/src/cli');
  const entry = `
    const { buildProgram } = require(${JSON.stringify(`${dist}/main.js`)});
    const program = buildProgram();
    if (!program.commands.some((c) => c.name() === 'dashboard')) {
      require(${JSON.stringify(`${dist}/commands/dashboard.js`)}).registerDashboard(program);
      program.commands.at(-1).exitOverride((err) => process.exit(err.code === 'commander.helpDisplayed' ? 0 : 2));
    }
    void program.parseAsync(['node', 'pokequeue', 'dashboard', ...process.argv.slice(1)]);`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['-e', entry, '--', ...args], { env: cliEnv({ LOG_LEVEL: 'warn', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let checked = false;
    let failure: unknown;
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!whileUp || checked || !stdout.includes('\n')) return;
      checked = true;
      whileUp(stdout)
        .catch((err) => (failure = err))
        .finally(() => child.kill('SIGTERM'));
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else resolvePromise({ code, stdout, stderr });
    });
  });
}
