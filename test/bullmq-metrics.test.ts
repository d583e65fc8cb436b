/**
 * BullMQ's job metrics (what bull-board's chart draws), written by the workers' statistics flush
 * through collect-metrics.lua instead of by BullMQ in every job's moveToFinished. Read back with
 * BullMQ's own Queue#getMetrics, as bull-board reads them: the count and one data point per
 * minute must be what BullMQ's per-job rule (its includes/collectMetrics.lua) would have left.
 */
import { Queue } from 'bullmq';
import { BULLMQ_METRICS_MAX_POINTS, keysFor, QUEUE_NAME } from '../src/redis/schema';
import { defineScript } from '../src/redis/scripts';
import { startTestRedis, type TestRedis } from './helpers/redis';

const PREFIX = 'bullmq-metrics';
type Collect = { pokequeueCollectMetrics(hash: string, data: string, n: number, now: number, maxPoints: number): Promise<number> };

describe('BullMQ job metrics from the statistics flush', () => {
  let redis: TestRedis;
  let queue: Queue;
  const keys = keysFor(PREFIX);
  const collect = (n: number, now: number, maxPoints = BULLMQ_METRICS_MAX_POINTS) =>
    (redis.client as unknown as Collect).pokequeueCollectMetrics(keys.bullmqMetrics('completed'), keys.bullmqMetricsData('completed'), n, now, maxPoints);

  beforeAll(async () => {
    redis = await startTestRedis();
    defineScript(redis.client, 'pokequeueCollectMetrics', 'collect-metrics', 2);
    queue = new Queue(QUEUE_NAME, { connection: redis.client, prefix: PREFIX });
  });
  afterAll(async () => {
    await queue?.close();
    await redis?.stop();
  });

  it('counts every job, and pushes one point per minute (zeros for empty minutes) when a new minute starts', async () => {
    const t0 = Date.UTC(2026, 11, 6, 3, 0, 10);
    await collect(5, t0); // the first ever: starts the clock, no point yet
    await collect(3, t0 + 20_000); // same minute
    let m = await queue.getMetrics('completed');
    expect(m.meta.count).toBe(8);
    expect(m.data).toEqual([]);

    // Three minutes on: the 8 of the first minute, then a zero for each of the two empty ones, newest first.
    await collect(4, t0 + 180_000);
    m = await queue.getMetrics('completed');
    expect(m.meta.count).toBe(12);
    expect(m.data).toEqual([0, 0, 8]);

    await collect(1, t0 + 181_000); // same minute again: counted, no point
    await collect(2, t0 + 240_000); // the next minute: the 5 of the last one
    m = await queue.getMetrics('completed');
    expect(m.meta.count).toBe(15);
    expect(m.data).toEqual([5, 0, 0, 8]);
    expect(m.count).toBe(4);
  });

  it('keeps at most maxDataPoints points, as BullMQ does', async () => {
    await collect(1, Date.UTC(2027, 0, 1), 10);
    const m = await queue.getMetrics('completed');
    // The 2 jobs of the last minute counted, then nine empty minutes: the rest trimmed away.
    expect(m.data).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    expect(m.meta.count).toBe(16);
  });
});
