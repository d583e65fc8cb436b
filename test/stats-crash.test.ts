/**
 * What a crash can lose of the statistics: batch counters are exact (written with each job),
 * timing and fleet counts are summed in the worker and flushed every second, so a worker killed
 * with `kill -9` loses at most the jobs it finished in its last flush interval, and nothing else.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { QUEUE_NAME } from '../src/redis/schema';
import { STATS_FLUSH_INTERVAL_MS } from '../src/stats/recorder';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { recordGuarantee } from './helpers/guarantees';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';

const PREFIX = 'flushcrash';
const IDS = 200;
const CONCURRENCY = 5;
const LATENCY_MS = 100;

describe('when a worker is killed with unflushed statistics', () => {
  let redis: TestRedis;
  let sim: RunningSimulator;
  const workers: WorkerProcess[] = [];
  let env: Record<string, string>;
  let batchId: string;
  let atKill: { counted: number; timed: number; fleet: number };
  let atEnd: { counted: number; timed: number; fleet: number };
  let chartCount = -1;

  const read = async () => {
    const [completed, failed, timed] = await redis.client.hmget(`${PREFIX}:batch:${batchId}`, 'completed', 'failed', 'n:t');
    const fleet = await redis.client.hmget(`${PREFIX}:stats:totals`, 'completed', 'failed');
    return { counted: Number(completed ?? 0) + Number(failed ?? 0), timed: Number(timed ?? 0), fleet: Number(fleet[0] ?? 0) + Number(fleet[1] ?? 0) };
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimulator({ latencyMs: LATENCY_MS });
    env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: PREFIX, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'info', WORKER_CONCURRENCY: String(CONCURRENCY),
      // Short locks: the killed worker's jobs in flight go to the survivor within a few seconds.
      LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' };
    const victim = await startWorker(env);
    workers.push(victim);
    const r = await runCli(['enqueue', `1-${IDS}`, '--json'], env);
    batchId = (JSON.parse(r.stdout) as { batchId: string }).batchId;
    // Mid-batch, and half a flush interval after a flush at most: some finished jobs are unflushed.
    await until(async () => (await read()).counted >= 60, 30_000, '60 jobs counted');
    await sleep(STATS_FLUSH_INTERVAL_MS / 2);
    victim.child.kill('SIGKILL');
    await victim.exited;
    atKill = await read();
    // Another worker finishes the batch; the killed one's in-flight jobs come back after their locks expire.
    workers.push(await startWorker(env));
    await until(async () => (await redis.client.hget(`${PREFIX}:batch:${batchId}`, 'finishedAt')) !== null, 60_000, 'the batch to finish');
    await sleep(STATS_FLUSH_INTERVAL_MS * 2); // the survivor's last flush
    atEnd = await read();
    const queue = new Queue(QUEUE_NAME, { connection: redis.client, prefix: PREFIX });
    const [done, failed] = await Promise.all([queue.getMetrics('completed'), queue.getMetrics('failed')]);
    chartCount = done.meta.count + failed.meta.count;
    await queue.close();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await redis?.stop();
    await sim?.close();
  });

  it('keeps the batch counters exact: every id counted once', () => {
    expect(atEnd.counted).toBe(IDS);
  });

  it('loses at most the timing of the jobs the killed worker finished in its last flush interval', () => {
    // One worker at concurrency 5 against a 100 ms API finishes at most 5 jobs per 100 ms: 50 in a
    // flush interval, and a flush's own round trip.
    const perInterval = CONCURRENCY * Math.ceil(STATS_FLUSH_INTERVAL_MS / LATENCY_MS) + CONCURRENCY;
    const lostAtKill = atKill.counted - atKill.timed;
    expect(lostAtKill).toBeGreaterThanOrEqual(0);
    expect(lostAtKill).toBeLessThanOrEqual(perInterval);
    // What was lost stays lost (the dead worker never sends it); everything the survivor did arrives.
    const lost = atEnd.counted - atEnd.timed;
    expect(lost).toBe(lostAtKill);
    expect(atEnd.fleet).toBe(atEnd.timed);
    // bull-board's chart (BullMQ's metrics, written at the same flush) loses the same jobs and no more.
    expect(chartCount).toBe(atEnd.fleet);
    recordGuarantee('stats-crash', {
      scenario: `kill -9 a worker with unflushed statistics (concurrency ${CONCURRENCY}, ${LATENCY_MS} ms API, ids 1-${IDS})`,
      test: 'stats-crash › when a worker is killed with unflushed statistics',
      idsStored: atEnd.counted,
      idsFailed: 0,
      idsLost: 0,
      duplicateFetches: Object.values(sim.stats().byId).reduce((n, c) => n + c - 1, 0),
      notes: `batch counters exact (${atEnd.counted}/${IDS}); timing of ${lost} jobs lost (the killed worker's last ${STATS_FLUSH_INTERVAL_MS} ms; bound ${perInterval})`,
    });
  });
});
