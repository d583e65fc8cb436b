import { Redis } from 'ioredis';
import { openContext, type AppContext } from '../src/cli/context';
import { parseConfig } from '../src/config/load';
import { createLogger } from '../src/log';
import { GroupCommit, type FinishedFetch } from '../src/queue/group-commit';
import { ADD_BULK_CHUNK, ADD_BULK_IN_FLIGHT, enqueueBatch } from '../src/queue/producer';
import { keysFor } from '../src/redis/keys';
import { OutcomeRecorder } from '../src/stats/outcome-recorder';
import { RecordStore } from '../src/store/record-store';
import type { PokemonRecord } from '../src/types';
import { startTestRedis, type TestRedis } from './helpers/redis';

const PREFIX = 'gc';
const keys = keysFor(PREFIX);
const log = createLogger('silent');

function recordFor(id: number): PokemonRecord {
  return {
    id, name: `mon-${id}`, height: 1, weight: 1, baseExperience: null, order: id, isDefault: true, species: `mon-${id}`,
    types: ['normal'], abilities: [], stats: { hp: id }, sprite: null, moveCount: 0, fetchedAt: new Date(0).toISOString(), sourceUrl: `sim/${id}`,
  };
}

function finished(id: number, batchId: string): FinishedFetch {
  return {
    record: recordFor(id),
    outcome: { id, batchId, outcome: 'completed', waitMs: 5, fetchMs: 10, totalMs: 20, workerId: 'w1', retried: false },
  };
}

/** Counts the commands Redis runs, by name, while `fn` runs (INFO commandstats deltas). */
async function commandsDuring(redis: Redis, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const read = async () => {
    const out: Record<string, number> = {};
    for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
    return out;
  };
  const before = await read();
  await fn();
  const after = await read();
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
}

describe('group commit: the records and outcomes of jobs finishing together go in one transaction', () => {
  let redis: TestRedis;
  let app: Redis;
  let commits: GroupCommit;

  beforeAll(async () => {
    redis = await startTestRedis();
    app = new Redis(redis.url);
    commits = new GroupCommit(app, new RecordStore(app, PREFIX), new OutcomeRecorder(app, PREFIX));
  });
  afterAll(async () => {
    app.disconnect();
    await redis.stop();
  });

  it('stores every record and counts every outcome of a group, with one MULTI (one HSET per hash, the statistics and claim-names scripts)', async () => {
    await redis.client.hset(keys.batch('b1'), { createdAt: Date.now(), added: 50 });
    let results: { counted: boolean }[] = [];
    const calls = await commandsDuring(redis.client, async () => {
      results = await Promise.all(Array.from({ length: 50 }, (_, i) => commits.commit(finished(i + 1, 'b1'))));
    });
    expect(results.every((r) => r.counted)).toBe(true);
    expect(calls.multi).toBe(1);
    expect(calls.exec).toBe(1);
    expect(calls.hset).toBe(2); // records and names, 50 fields each
    // The statistics script, and the store's claim-names script (issue 11: a name is not repointed by another id).
    expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(2);
    expect(await redis.client.hlen(keys.records)).toBe(50);
    expect(JSON.parse((await redis.client.hget(keys.records, '7'))!)).toMatchObject({ id: 7, name: 'mon-7' });
    expect(await redis.client.hget(keys.names, 'mon-7')).toBe('7');
    const batch = await redis.client.hgetall(keys.batch('b1'));
    expect(batch.completed).toBe('50');
    expect(batch.finishedAt).toBeDefined(); // the last outcome of the group closed the batch
    expect(await redis.client.llen(keys.batchTimings('b1'))).toBe(50);
    expect(await redis.client.hget(keys.totals, 'completed')).toBe('50');
  });

  it('counts an id once per batch even when it appears twice in one group, and keeps batches apart', async () => {
    const results = await Promise.all([
      commits.commit(finished(100, 'b2')),
      commits.commit(finished(100, 'b2')),
      commits.commit(finished(100, 'b3')),
    ]);
    expect(results.map((r) => r.counted)).toEqual([true, false, true]);
    expect(await redis.client.hget(keys.batch('b2'), 'completed')).toBe('1');
    expect(await redis.client.hget(keys.batch('b3'), 'completed')).toBe('1');
  });

  it('fails every job of the group when Redis refuses its write, so BullMQ retries them all', async () => {
    // A string where the records hash should be: the HSET inside MULTI fails, like a write refused by Redis.
    const brokenPrefix = 'gc-broken';
    const broken = new GroupCommit(app, new RecordStore(app, brokenPrefix), new OutcomeRecorder(app, brokenPrefix));
    await redis.client.set(keysFor(brokenPrefix).records, 'not a hash');
    const settled = await Promise.allSettled([broken.commit(finished(1, 'b4')), broken.commit(finished(2, 'b4'))]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
  });

  it('splits a group larger than its cap over several transactions, and resolves every job', async () => {
    const small = new GroupCommit(app, new RecordStore(app, 'gc-cap'), new OutcomeRecorder(app, 'gc-cap'), 10);
    let results: { counted: boolean }[] = [];
    const calls = await commandsDuring(redis.client, async () => {
      results = await Promise.all(Array.from({ length: 35 }, (_, i) => small.commit(finished(i + 1, 'b5'))));
    });
    expect(results.filter((r) => r.counted)).toHaveLength(35);
    expect(calls.exec).toBe(4);
    expect(await redis.client.hlen(keysFor('gc-cap').records)).toBe(35);
  });
});

describe('the producer keeps two addBulk calls in flight', () => {
  let redis: TestRedis;
  let ctx: AppContext;

  beforeAll(async () => {
    redis = await startTestRedis();
    ctx = await openContext(parseConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: 'gcp' }), log, { startup: 'fail-fast', connections: 1 });
  });
  afterAll(async () => {
    await ctx.close();
    await redis.stop();
  });

  it('adds every id of a batch spanning several chunks once, in id order', async () => {
    expect(ADD_BULK_IN_FLIGHT).toBeGreaterThan(1);
    const count = ADD_BULK_CHUNK * 3 + 17;
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    const r = await enqueueBatch(ctx, { ids, refresh: false, spec: `1-${count}` });
    expect(r.added).toBe(count);
    // BullMQ pushes new jobs on the left of the wait list: reversed, it is the order they went in.
    const waiting = (await redis.client.lrange('gcp:pokemon:wait', 0, -1)).reverse();
    expect(waiting).toEqual(ids.map((id) => `pokemon-${id}`));
    expect(await redis.client.hget(keysFor('gcp').batch(r.batchId), 'added')).toBe(String(count));
  });
});
