import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type LocalRedisServer } from '../src/redis/local-server';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { recordGuarantee } from './helpers/guarantees';
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, cliEnv, runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { until } from './helpers/until';


describe('Redis going away', () => {
  let sim: RunningSimulator;
  const procs: WorkerProcess[] = [];
  const servers: LocalRedisServer[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ latencyMs: 20 });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await Promise.all(servers.map((s) => s.stop()));
    await sim.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('when Redis restarts mid-batch (append-only file on)', () => {
    let result: Awaited<ReturnType<typeof runCli>>;
    let client: Redis;
    let pids: number[];
    let dashboard: ChildProcess;
    let dashboardUrl: string;

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pq-aof-'));
      dirs.push(dir);
      const port = await freePort();
      let server = await startRedisServer({ port, dataDir: dir });
      servers.push(server);
      client = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: false });
      // A rate limit stretches the batch so the restart lands in the middle of it.
      const env = { REDIS_URL: server.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'restart', RATE_LIMIT_PER_SECOND: '60', LOG_LEVEL: 'info', WORKER_CONCURRENCY: '4' };
      const workers = [await startWorker(env), await startWorker(env)];
      procs.push(...workers);
      pids = workers.map((w) => w.child.pid!);
      dashboard = spawn(process.execPath, [CLI, 'dashboard', '--port', '0'], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
      dashboardUrl = await new Promise<string>((ok) => {
        let out = '';
        dashboard.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /dashboard: (http:\/\/[^/\s]+)/.exec(out);
          if (m) ok(m[1]!);
        });
      });
      const batch = runCli(['enqueue', '1-400', '--wait'], env, 120_000);
      await until(async () => (await client.hlen('restart:records')) >= 80, 30_000, '80 records');
      await server.stop();
      await new Promise((r) => setTimeout(r, 1500));
      server = await startRedisServer({ port, dataDir: dir });
      servers.push(server);
      result = await batch;
    }, 150_000);
    afterAll(() => {
      client.disconnect();
      dashboard.kill('SIGKILL');
    });

    it('the batch completes without restarting any process', async () => {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/succeeded 400, failed 0/);
      for (const w of procs.slice(0, 2)) expect(w.child.exitCode).toBeNull();
      expect(procs.slice(0, 2).map((w) => w.child.pid)).toEqual(pids);
    });

    it('the dashboard reconnects by itself: ready again, and counting the whole batch', async () => {
      expect(dashboard.exitCode).toBeNull();
      await until(async () => (await fetch(`${dashboardUrl}/readyz`)).status === 200, 15_000, 'the dashboard to be ready');
      const stats = (await (await fetch(`${dashboardUrl}/api/stats`)).json()) as { queue: { stored: number } };
      expect(stats.queue.stored).toBe(400);
    });

    it('every id is stored once, and the workers said they reconnected', async () => {
      expect(await client.hlen('restart:records')).toBe(400);
      for (const w of procs.slice(0, 2)) expect(w.output()).toMatch(/reconnected to Redis/);
      const byId = sim.stats().byId;
      recordGuarantee('redis-restart', {
        scenario: 'Redis restarts mid-batch, append-only file on (2 workers, ids 1-400)',
        test: 'redis-restart › when Redis restarts mid-batch',
        idsStored: 400, idsFailed: 0, idsLost: 0,
        duplicateFetches: Object.values(byId).filter((n) => n > 1).length,
        notes: 'workers, producer --wait reconnect by themselves; Redis down ~1.5 s',
      });
    });
  });

  describe('when Redis is down at start', () => {
    it('the worker waits with a clear log line, then starts once Redis is up', async () => {
      const port = await freePort();
      const env = { REDIS_URL: `redis://:pw@127.0.0.1:${port}`, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'late', LOG_LEVEL: 'info' };
      const starting = startWorker(env, [], 30_000);
      await new Promise((r) => setTimeout(r, 2000));
      const server = await startRedisServer({ port, extraArgs: ['--requirepass', 'pw'] });
      servers.push(server);
      const w = await starting;
      procs.push(w);
      expect(w.output()).toMatch(/waiting for Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/);
      expect(w.output()).not.toContain(':pw@');
    }, 40_000);

    it('the producer fails fast with a clear message and exit code 1', async () => {
      const port = await freePort();
      const r = await runCli(['enqueue', '1-10'], { REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: 'late' }, 20_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
    });
  });

  describe('unsafe Redis settings', () => {
    it('a worker warns when Redis may evict keys or keeps nothing on disk', async () => {
      const server = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
      servers.push(server);
      const w = await startWorker({ REDIS_URL: server.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'unsafe', LOG_LEVEL: 'info' });
      procs.push(w);
      await until(async () => w.output().includes('keeps nothing on disk'), 5_000, 'the persistence warning');
      expect(w.output()).toMatch(/maxmemory-policy is \\?"allkeys-lru/);
    });

    it('says nothing when Redis is set up as production wants it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pq-safe-'));
      dirs.push(dir);
      const server = await startRedisServer({ dataDir: dir, extraArgs: ['--maxmemory-policy', 'noeviction'] });
      servers.push(server);
      const w = await startWorker({ REDIS_URL: server.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'safe', LOG_LEVEL: 'info' });
      procs.push(w);
      await new Promise((r) => setTimeout(r, 500));
      expect(w.output()).not.toContain('maxmemory-policy is');
      expect(w.output()).not.toContain('keeps nothing on disk');
    });
  });
});
