import { Queue } from 'bullmq';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';


describe('stopping a worker under load', () => {
  let redis: TestRedis;
  let sim: RunningSimulator;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    // Slow answers, so a signal always lands while jobs are in flight.
    sim = await startSimulator({ latencyMs: 1500 });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await redis.stop();
    await sim.close();
  });

  function envFor(prefix: string, extra: Record<string, string> = {}) {
    return { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'info', WORKER_CONCURRENCY: '5', ...extra };
  }

  describe('on SIGTERM', () => {
    const prefix = 'term';
    let code: number | null;
    let inFlightAtSignal: string[];
    let queue: Queue;

    beforeAll(async () => {
      queue = new Queue('pokemon', { connection: redis.client, prefix });
      const w = await startWorker(envFor(prefix));
      procs.push(w);
      expect((await runCli(['enqueue', '1-20'], envFor(prefix))).code).toBe(0);
      await until(async () => (await queue.getActiveCount()) === 5, 10_000, '5 active jobs');
      inFlightAtSignal = (await queue.getActive()).map((j) => String(j.data.id));
      w.child.kill('SIGTERM');
      code = await w.exited;
    }, 30_000);

    it('finishes the jobs in flight and exits 0', async () => {
      expect(code).toBe(0);
      const stored = await redis.client.hmget(`${prefix}:records`, ...inFlightAtSignal);
      expect(stored.every((r) => r !== null)).toBe(true);
    });

    it('takes no new job after the signal', async () => {
      expect(await redis.client.hlen(`${prefix}:records`)).toBe(5);
      expect(await queue.getWaitingCount()).toBe(15);
    });

    it('leaves nothing active or stalled behind', async () => {
      expect(await queue.getActiveCount()).toBe(0);
      expect(await redis.client.exists(`${prefix}:pokemon:stalled`)).toBe(0);
    });
  });

  describe('when the shutdown deadline passes', () => {
    it('stops at the deadline, exits 0, and the unfinished jobs go to the next worker', async () => {
      const prefix = 'deadline';
      const queue = new Queue('pokemon', { connection: redis.client, prefix });
      const env = envFor(prefix, { SHUTDOWN_TIMEOUT_MS: '200', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' });
      const w = await startWorker(env);
      procs.push(w);
      expect((await runCli(['enqueue', '1-5'], env)).code).toBe(0);
      await until(async () => (await queue.getActiveCount()) === 5, 10_000, '5 active jobs');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(w.output()).toContain('shutdown deadline passed');
      const next = await startWorker(env);
      procs.push(next);
      await until(async () => (await redis.client.hlen(`${prefix}:records`)) === 5, 20_000, 'all 5 stored by the next worker');
    }, 40_000);
  });

  describe('when SIGTERM arrives the moment a worker says it is ready', () => {
    // Regression: "worker ready" used to be printed before the signal handlers were installed,
    // and on a loaded machine a SIGTERM landing in between killed the worker outright.
    it('every worker still stops gracefully and exits 0', async () => {
      const env = envFor('ready-signal');
      const codes = await Promise.all(
        [0, 1, 2, 3].map(async () => {
          const w = await startWorker(env);
          procs.push(w);
          return w.stop('SIGTERM');
        }),
      );
      expect(codes).toEqual([0, 0, 0, 0]);
    }, 40_000);
  });

  describe('on a second SIGINT', () => {
    it('exits at once, without waiting for jobs in flight', async () => {
      const prefix = 'twice';
      const queue = new Queue('pokemon', { connection: redis.client, prefix });
      const env = envFor(prefix);
      const w = await startWorker(env);
      procs.push(w);
      expect((await runCli(['enqueue', '1-5'], env)).code).toBe(0);
      await until(async () => (await queue.getActiveCount()) === 5, 10_000, '5 active jobs');
      w.child.kill('SIGINT');
      await until(async () => w.output().includes('finishing jobs in flight'), 5_000, 'the first signal to be seen');
      w.child.kill('SIGINT');
      expect(await w.exited).toBe(130);
      expect(w.output()).toContain('again: exiting now');
    }, 30_000);
  });
});
