import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { recordGuarantee } from './helpers/guarantees';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';

/** Makes the shipped worker crash on one id (see the file). */
const POISON_PRELOAD = resolve(__dirname, 'fixtures/poison-preload.js');


describe('worker crashes', () => {
  let redis: TestRedis;
  let sim: RunningSimulator;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimulator({ latencyMs: 30, jitterMs: 20 });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await redis.stop();
    await sim.close();
  });

  describe('when a worker is killed with SIGKILL mid-batch', () => {
    // Default lock and stalled-check settings: this measures the recovery users get out of the box.
    const prefix = 'crash';
    let env: Record<string, string>;
    let result: Awaited<ReturnType<typeof runCli>>;
    let orphaned: string[] = [];
    let recoverySeconds = 0;
    let survivorId = '';

    beforeAll(async () => {
      sim.resetStats();
      env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'info', WORKER_CONCURRENCY: '8' };
      const victim = await startWorker(env);
      const survivor = await startWorker(env);
      procs.push(victim, survivor);
      survivorId = `${require('node:os').hostname()}:${survivor.child.pid}`;
      const batch = runCli(['enqueue', 'all', '--wait'], { ...env, LOG_LEVEL: 'warn' }, 120_000);
      await until(async () => (await redis.client.hlen(`${prefix}:records`)) >= 300, 60_000, '300 records');

      // Which jobs the victim holds at the moment it dies: those must be handed on.
      const queue = new Queue('pokemon', { connection: redis.client, prefix });
      const victimId = `${require('node:os').hostname()}:${victim.child.pid}`;
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      orphaned = (await queue.getActive()).filter((j) => j.processedBy === victimId).map((j) => String(j.data.id));
      await until(
        async () => (await redis.client.hmget(`${prefix}:records`, ...(orphaned.length ? orphaned : ['0']))).every((v) => v !== null),
        60_000,
        'the killed worker\'s jobs to be stored',
      );
      recoverySeconds = (Date.now() - killedAt) / 1000;
      result = await batch;
    }, 150_000);

    it('the batch completes: every id stored, none failed', () => {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/succeeded 1351, failed 0/);
    });

    it('every id ends stored exactly once', async () => {
      expect(await redis.client.hlen(`${prefix}:records`)).toBe(1351);
      expect(await redis.client.hlen(`${prefix}:names`)).toBe(1351);
    });

    it("hands the killed worker's jobs to the survivor", async () => {
      expect(orphaned.length).toBeGreaterThan(0);
      const queue = new Queue('pokemon', { connection: redis.client, prefix });
      for (const id of orphaned) {
        const job = await queue.getJob(`pokemon-${id}`);
        // Retention may already have removed the job; where it is kept, the survivor finished it.
        if (job) expect(job.processedBy).toBe(survivorId);
      }
    });

    it('fetches again only what was in flight when the worker died', () => {
      const byId = sim.stats().byId;
      const duplicates = Object.values(byId).filter((n) => n > 1).length;
      expect(duplicates).toBeLessThanOrEqual(orphaned.length);
      recordGuarantee('kill-9-mid-batch', {
        scenario: 'kill -9 a worker mid-batch (2 workers, all 1351 ids, 30±20 ms latency)',
        test: 'worker-crash › when a worker is killed with SIGKILL mid-batch',
        idsStored: 1351, idsFailed: 0, idsLost: 0, duplicateFetches: duplicates, recoverySeconds: Math.round(recoverySeconds * 10) / 10,
        notes: `${orphaned.length} jobs in flight on the killed worker; default LOCK_DURATION_MS=10000, STALLED_INTERVAL_MS=5000`,
      });
    });
  });

  describe('when one job crashes every process that runs it (a poison job)', () => {
    const prefix = 'poison';
    const POISON = 13;
    let result: Awaited<ReturnType<typeof runCli>>;
    let crashes = 0;

    beforeAll(async () => {
      sim.resetStats();
      // Short locks keep the test quick; concurrency 1 so the crash takes no other job down with it.
      const env = {
        REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'info',
        WORKER_CONCURRENCY: '1', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', MAX_STALLED_COUNT: '1', POISON_ID: String(POISON),
      };
      // A fleet that restarts crashed workers, as a supervisor or an orchestrator would.
      let stopping = false;
      const keepAlive = async () => {
        const p = await startWorker(env, [], 20_000, { nodeArgs: ['--require', POISON_PRELOAD] });
        procs.push(p);
        void p.exited.then(() => {
          if (p.output().includes('poison: crashing')) crashes++;
          if (!stopping) void keepAlive();
        });
      };
      await Promise.all([keepAlive(), keepAlive(), keepAlive()]);
      result = await runCli(['enqueue', '1-30', '--wait'], { ...env, LOG_LEVEL: 'warn' }, 90_000);
      stopping = true;
    }, 120_000);

    it('fails the poison job with a clear reason once the stalled limit is passed', async () => {
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/succeeded 29, failed 1/);
      expect(result.stdout).toMatch(/stalled\s+1/);
      const reason = await redis.client.hget(`${prefix}:pokemon:pokemon-${POISON}`, 'failedReason');
      expect(reason).toMatch(/stalled more than allowable limit/);
    });

    it('completes the rest of the batch', async () => {
      expect(await redis.client.hlen(`${prefix}:records`)).toBe(29);
    });

    it('does not crash-loop the fleet: the job kills at most MAX_STALLED_COUNT + 1 processes', () => {
      expect(crashes).toBeLessThanOrEqual(2);
      expect(crashes).toBeGreaterThanOrEqual(1);
      recordGuarantee('poison-job', {
        scenario: 'a job that crashes its process every time (3 workers, ids 1-30)',
        test: 'worker-crash › when one job crashes every process that runs it',
        idsStored: 29, idsFailed: 1, idsLost: 0, duplicateFetches: Object.values(sim.stats().byId).filter((n) => n > 1).length,
        notes: `poison job failed as "stalled" after ${crashes} crashes (MAX_STALLED_COUNT=1)`,
      });
    });
  });
});
