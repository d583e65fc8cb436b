import { Redis } from 'ioredis';
import { openContext, type AppContext } from '../src/cli/context';
import { parseConfig } from '../src/config/load';
import { createLogger } from '../src/log';
import { waitForBatch } from '../src/queue/batch-waiter';
import { keysFor } from '../src/redis/keys';
import { startTestRedis, type TestRedis } from './helpers/redis';

const PREFIX = 'bw';
const keys = keysFor(PREFIX);
const outcome = (id: number, batchId: string) => ({ id, batchId, outcome: 'completed' as const, waitMs: 1, fetchMs: 2, totalMs: 3, workerId: 'w', retried: false });

describe('--wait hears the end of its batch instead of polling for it', () => {
  let redis: TestRedis;
  let ctx: AppContext;
  const deps = () => ({ redis: ctx.redis, queue: ctx.queue, prefix: PREFIX, log: ctx.log });

  beforeAll(async () => {
    redis = await startTestRedis();
    ctx = await openContext(parseConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX }), createLogger('silent'), { startup: 'fail-fast', connections: 1 });
  });
  afterAll(async () => {
    await ctx.close();
    await redis.stop();
  });

  it('returns as soon as the last outcome is recorded, though its poll interval is ten minutes', async () => {
    const batchId = 'b-heard';
    await redis.client.hset(keys.batch(batchId), { createdAt: Date.now(), added: 2 });
    const listener = new Redis(redis.url);
    await listener.subscribe(keys.batchFinishedChannel);
    const published: string[] = [];
    listener.on('message', (_c: string, m: string) => published.push(m));
    let polls = 0;
    let firstPoll!: () => void;
    const polled = new Promise<void>((r) => (firstPoll = r));
    const waiting = waitForBatch(deps(), batchId, () => (polls++, firstPoll()), { pollMs: 600_000 });
    await polled; // the waiter is now asleep for ten minutes
    await ctx.recorder.record(outcome(1, batchId));
    await ctx.recorder.record(outcome(2, batchId));
    // A ten-minute poll would trip jest's 60 s timeout: only the published message can end this.
    const result = await waiting;
    expect(result.completed).toBe(2);
    expect(published).toEqual([batchId]); // once, by the outcome that finished the batch
    expect(polls).toBe(2); // the first poll, and the one the message woke
    listener.disconnect();
  });

  it('ignores other batches finishing, and still ends by polling when no message comes', async () => {
    const mine = 'b-mine';
    await redis.client.hset(keys.batch(mine), { createdAt: Date.now(), added: 1 });
    await redis.client.hset(keys.batch('b-other'), { createdAt: Date.now(), added: 1 });
    let polls = 0;
    let firstPoll!: () => void;
    const polled = new Promise<void>((r) => (firstPoll = r));
    const waiting = waitForBatch(deps(), mine, () => (polls++, firstPoll()), { pollMs: 50 });
    await polled;
    await ctx.recorder.record(outcome(1, 'b-other'));
    // Finished behind the script's back (as the producer does when its jobs all raced ahead): no message.
    await redis.client.hset(keys.batch(mine), { completed: 1, finishedAt: Date.now() });
    await expect(waiting).resolves.toMatchObject({ completed: 1 });
    expect(polls).toBeGreaterThanOrEqual(2);
  });
});
