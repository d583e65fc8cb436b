/**
 * The batch's state in Redis, through the modules that own it (BatchStore and its Lua scripts,
 * the worker's GroupCommit, BatchWatch), against a real redis-server: counting each job once,
 * O(1) Redis work per job, adoption, the finish rule and its message. The same behaviour seen
 * through the shipped CLI is in pipeline, duplicates, worker-crash and the other process tests.
 */
import { Redis } from 'ioredis';
import { progressOf } from '../src/batch/batch';
import { BatchStore } from '../src/batch/batch-store';
import { BatchWatch, FinishedBatches } from '../src/batch/batch-watch';
import { openContext, type AppContext } from '../src/cli/context';
import { parseConfig } from '../src/config/load';
import { IdSet } from '../src/ids/id-set';
import { createLogger } from '../src/log';
import { GroupCommit, type FinishedWork } from '../src/queue/group-commit';
import { ADD_BULK_CHUNK, ADD_BULK_IN_FLIGHT, enqueueBatch } from '../src/queue/producer';
import { jobIdFor, keysFor } from '../src/redis/schema';
import { countedInBatch, OutcomeCount } from '../src/redis/scripts';
import { FleetStatsRecorder } from '../src/stats/recorder';
import { RecordStore } from '../src/store/record-store';
import type { FinishedJob, PokemonRecord } from '../src/types';
import { startTestRedis, type TestRedis } from './helpers/redis';

const log = createLogger('silent');

function recordFor(id: number): PokemonRecord {
  return {
    id, name: `mon-${id}`, height: 1, weight: 1, baseExperience: null, order: id, isDefault: true, species: `mon-${id}`,
    types: ['normal'], abilities: [], stats: { hp: id }, sprite: null, moveCount: 0, fetchedAt: new Date(0).toISOString(), sourceUrl: `sim/${id}`,
  };
}

function job(id: number, batchId: string, extra: Partial<FinishedJob> = {}): FinishedJob {
  // Timings repeat as real ones do, so a group's jobs share histogram buckets.
  return { id, batchId, outcome: 'completed', cached: false, attemptsMade: 0, waitMs: 5, fetchMs: 100 + ((id * 7) % 50), totalMs: 200 + (id % 30), ...extra };
}

/** A batch whose `added` jobs are all enqueued (created, counted in, sealed), as the producer leaves it. */
async function enqueued(batches: BatchStore, batchId: string, added: number): Promise<void> {
  await batches.create({ batchId, spec: 'test', requested: added, refresh: false });
  await batches.countIn(batchId, added, 0);
  await batches.seal(batchId);
}

const work = (id: number, batchId: string, extra: Partial<FinishedJob> = {}): FinishedWork => ({
  record: extra.outcome === 'failed' ? undefined : recordFor(id),
  job: job(id, batchId, extra),
});

/**
 * What the worker does with a finished job: commit it, then count it into the statistics it
 * flushes (the batch's timing among them), unless its batch had counted it already.
 */
function workerSide(commits: GroupCommit, stats: FleetStatsRecorder) {
  return async (w: FinishedWork): Promise<number> => {
    const count = await commits.commit(w);
    if (count !== OutcomeCount.duplicate) stats.record(w.job, countedInBatch(count));
    if (count === OutcomeCount.countedLast) await stats.flush();
    return count;
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

describe('counting outcomes: commit-group through the group commit', () => {
  const PREFIX = 'gc';
  const keys = keysFor(PREFIX);
  let redis: TestRedis;
  let app: Redis;
  let batches: BatchStore;
  let commits: GroupCommit;
  let stats: FleetStatsRecorder;
  let finish: (w: FinishedWork) => Promise<number>;
  const newBatch = (batchId: string, added: number) => enqueued(batches, batchId, added);

  beforeAll(async () => {
    redis = await startTestRedis();
    app = new Redis(redis.url);
    batches = new BatchStore(app, PREFIX);
    commits = new GroupCommit(app, new RecordStore(app, PREFIX), batches);
    stats = new FleetStatsRecorder(app, PREFIX, log);
    finish = workerSide(commits, stats);
  });
  afterAll(async () => {
    app.disconnect();
    await redis.stop();
  });

  it('stores and counts a group of jobs with one script call and O(1) commands per job', async () => {
    await newBatch('b-group', 200);
    let results: number[] = [];
    const calls = await commandsDuring(redis.client, async () => {
      results = await Promise.all(Array.from({ length: 200 }, (_, i) => commits.commit(work(i + 1, 'b-group'))));
    });
    for (let i = 1; i <= 200; i++) stats.record(job(i, 'b-group'), true);
    // One of them (the last) finished the batch.
    expect(results.filter((r) => r === OutcomeCount.counted)).toHaveLength(199);
    expect(results.filter((r) => r === OutcomeCount.countedLast)).toHaveLength(1);
    // One HSET of the records, then commit-group: names and the batches' counts in one call.
    expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(1);
    expect(calls.multi ?? 0).toBe(0);
    // records and names (200 fields each, names claimed), finishedAt: per group, not per job
    expect(calls.hset).toBeLessThanOrEqual(4);
    // Per job: one bit. Counters and histograms are summed in the script and written once per
    // field, so their commands do not grow with the group; with no adoption pending, the adopters
    // hash is looked at once for the whole group.
    expect(calls.setbit).toBe(200);
    expect(calls.hget ?? 0).toBeLessThanOrEqual(3);
    expect(calls.hmget).toBeLessThanOrEqual(2 + 1); // the names' holders, finish-if-done
    expect(calls.hincrby).toBeLessThan(50);
    expect(calls.rpush ?? 0).toBe(0);
    expect(calls.xadd ?? 0).toBe(0);
    expect(await redis.client.hlen(keys.records)).toBe(200);
    expect(JSON.parse((await redis.client.hget(keys.records, '7'))!)).toMatchObject({ id: 7, name: 'mon-7' });
    const snap = (await batches.read('b-group'))!;
    expect(snap).toMatchObject({ completed: 200, failed: 0 });
    expect(snap.finishedAt).not.toBeNull(); // the last job of the group finished the batch
    // The batch's timing comes with the worker's flush, a few field increments whatever the jobs.
    const flush = await commandsDuring(redis.client, () => stats.flush());
    expect(flush.hincrby).toBeLessThan(200);
    const summary = (await batches.summary('b-group'))!;
    expect(summary.timing.fetch.count).toBe(200);
    const fetches = Array.from({ length: 200 }, (_, i) => job(i + 1, '').fetchMs!).sort((a, b) => a - b);
    expect(summary.timing.fetch.max).toBe(fetches.at(-1)); // exact: the largest value is kept
    // The exact nearest-rank p50 and p99, and the histogram's within 5% of them.
    expect(Math.abs(summary.timing.fetch.p50 - fetches[99]!)).toBeLessThanOrEqual(fetches[99]! * 0.05);
    expect(Math.abs(summary.timing.fetch.p99 - fetches[197]!)).toBeLessThanOrEqual(fetches[197]! * 0.05);
  });

  it('counts an id once per batch even when its job runs twice, and keeps batches apart', async () => {
    await newBatch('b-twice', 2);
    await newBatch('b-other', 1);
    const results = await Promise.all([commits.commit(work(100, 'b-twice')), commits.commit(work(100, 'b-twice')), commits.commit(work(100, 'b-other'))]);
    expect(results).toEqual([OutcomeCount.counted, OutcomeCount.duplicate, OutcomeCount.countedLast]);
    // A later run (kill -9 after the commit, before BullMQ moved the job on) is a duplicate too.
    expect(await commits.commit(work(100, 'b-twice', { cached: true, fetchMs: undefined }))).toBe(OutcomeCount.duplicate);
    expect(await batches.read('b-twice')).toMatchObject({ completed: 1, cached: 0, finishedAt: null });
    expect(await batches.read('b-other')).toMatchObject({ completed: 1 });
  });

  it('counts failures by reason, retries from attemptsMade, and jobs answered from the store', async () => {
    await newBatch('b-mixed', 4);
    await Promise.all([
      finish(work(1, 'b-mixed', { outcome: 'failed', reason: 'not_found', fetchMs: undefined })),
      finish(work(2, 'b-mixed', { outcome: 'failed', reason: 'server_error', attemptsMade: 4, fetchMs: undefined })),
      finish(work(3, 'b-mixed', { attemptsMade: 2 })),
      finish({ job: job(4, 'b-mixed', { cached: true, fetchMs: undefined }) }),
    ]);
    await stats.flush();
    const summary = (await batches.summary('b-mixed'))!;
    expect(summary).toMatchObject({ completed: 2, failed: 2, cached: 1, retried: 2, retries: 6, failures: { not_found: 1, server_error: 1 } });
    expect(summary.timing.fetch.count).toBe(1);
    expect(summary.timing.total.count).toBe(4);
    expect(summary.finishedAt).not.toBeNull();
    expect(await redis.client.getbit(keys.batchFailed('b-mixed'), 2)).toBe(1);
    expect(await redis.client.getbit(keys.batchFailed('b-mixed'), 3)).toBe(0);
  });

  it('counts nothing, and creates no keys, for a batch that does not exist', async () => {
    const before = (await redis.client.keys(`${PREFIX}:batch:*`)).length;
    expect(await commits.commit(work(5, 'b-nosuchbatch'))).toBe(OutcomeCount.noBatch);
    expect((await redis.client.keys(`${PREFIX}:batch:*`)).length).toBe(before);
  });

  it('publishes a batch id once, when its last job is counted', async () => {
    await newBatch('b-publish', 3);
    const listener = new Redis(redis.url);
    const heard: string[] = [];
    listener.on('message', (_c: string, m: string) => heard.push(m));
    await listener.subscribe(keys.batchFinishedChannel);
    await commits.commit(work(1, 'b-publish'));
    await commits.commit(work(2, 'b-publish'));
    expect(heard).toEqual([]);
    await commits.commit(work(3, 'b-publish'));
    await commits.commit(work(3, 'b-publish')); // a duplicate does not finish it again
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toEqual(['b-publish']);
    listener.disconnect();
  });

  it('fails every job of the group when Redis refuses its write, so BullMQ retries them all', async () => {
    // A string where the records hash should be: the script's HSET fails, like a write refused by Redis.
    const brokenPrefix = 'gc-broken';
    const broken = new GroupCommit(app, new RecordStore(app, brokenPrefix), new BatchStore(app, brokenPrefix));
    await redis.client.set(keysFor(brokenPrefix).records, 'not a hash');
    const settled = await Promise.allSettled([broken.commit(work(1, 'b4')), broken.commit(work(2, 'b4'))]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
  });

  it('splits a group larger than its cap over several calls, and resolves every job', async () => {
    const capped = new BatchStore(app, 'gc-cap');
    const small = new GroupCommit(app, new RecordStore(app, 'gc-cap'), capped, 10);
    await enqueued(capped, 'b5', 35);
    let results: number[] = [];
    const calls = await commandsDuring(redis.client, async () => {
      results = await Promise.all(Array.from({ length: 35 }, (_, i) => small.commit(work(i + 1, 'b5'))));
    });
    expect(results.filter(countedInBatch)).toHaveLength(35);
    expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(4);
    expect(await redis.client.hlen(keysFor('gc-cap').records)).toBe(35);
  });
});

describe('the producer and the batch it creates', () => {
  const PREFIX = 'gcp';
  const keys = keysFor(PREFIX);
  let redis: TestRedis;
  let ctx: AppContext;
  let commits: GroupCommit;

  beforeAll(async () => {
    redis = await startTestRedis();
    ctx = await openContext(parseConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX }), log, { startup: 'fail-fast' });
    commits = new GroupCommit(ctx.redis, ctx.store, ctx.batches);
  });
  afterAll(async () => {
    await ctx.close();
    await redis.stop();
  });

  it('adds every id of a batch spanning several chunks once, in id order, two addBulk calls in flight', async () => {
    expect(ADD_BULK_IN_FLIGHT).toBeGreaterThan(1);
    const count = ADD_BULK_CHUNK * 3 + 17;
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    const r = await enqueueBatch(ctx, { ids: IdSet.of(ids), refresh: false, spec: `1-${count}` });
    expect(r.added).toBe(count);
    // BullMQ pushes new jobs on the left of the wait list: reversed, it is the order they went in.
    const waiting = (await redis.client.lrange(`${PREFIX}:pokemon:wait`, 0, -1)).reverse();
    expect(waiting).toEqual(ids.map((id) => `pokemon-${id}`));
    expect(await ctx.batches.read(r.batchId)).toMatchObject({ added: count, queued: 0, finishedAt: null });
    await ctx.queue.obliterate({ force: true });
  });

  it('classifies stored, queued, finished and new ids, in parts of a thousand and id by id where needed', async () => {
    const p = 'classify-' + Date.now();
    const batches = new BatchStore(redis.client, p);
    const k = keysFor(p);
    // Part one (ids 1-1000): one of each kind; part two (1001-2500): only new ids, the fast path.
    await redis.client.hset(k.records, '7', '{}', '1500', '{}');
    await redis.client.hset(`${k.jobKeyPrefix}${jobIdFor(8)}`, 'data', '{}');
    await redis.client.hset(`${k.jobKeyPrefix}${jobIdFor(9)}`, 'data', '{}', 'finishedOn', '1');
    const ids = Array.from({ length: 2500 }, (_, i) => i + 1);
    const fresh = ids.filter((id) => ![7, 8, 9, 1500].includes(id));
    expect(await batches.classify(ids, false)).toEqual({ fresh, stored: [7, 1500], live: [8], finished: [9] });
    // Refreshing, stored ids are fetched again: new unless queued.
    expect(await batches.classify(ids, true)).toEqual({ fresh: ids.filter((id) => ![8, 9].includes(id)), stored: [], live: [8], finished: [9] });
  });

  it('adopts ids another batch is fetching, and finishes when that batch\'s jobs are counted', async () => {
    const a = await enqueueBatch(ctx, { ids: IdSet.of([1, 2, 3]), refresh: false, spec: '1-3' });
    const b = await enqueueBatch(ctx, { ids: IdSet.of([2, 3, 4]), refresh: false, spec: '2-4' });
    expect(b).toMatchObject({ added: 1, alreadyQueued: 2, alreadyStored: 0 });
    expect(await redis.client.hget(keys.adopters, '2')).toBe(b.batchId);
    // A's jobs end: 2 stored, 3 failed. Then B's own job for 4.
    await commits.commit(work(1, a.batchId));
    await commits.commit(work(2, a.batchId));
    await commits.commit(work(3, a.batchId, { outcome: 'failed', reason: 'not_found', fetchMs: undefined }));
    expect(progressOf((await ctx.batches.read(b.batchId))!)).toMatchObject({ total: 3, done: 2, completed: 1, failed: 1, finished: false });
    await commits.commit(work(4, b.batchId));
    const snapB = (await ctx.batches.read(b.batchId))!;
    expect(snapB).toMatchObject({ completed: 1, failed: 0, adopted: { completed: 1, failed: 1 } });
    expect(snapB.finishedAt).not.toBeNull();
    expect(await redis.client.hlen(keys.adopters)).toBe(0);
    await ctx.queue.obliterate({ force: true });
  });

  it('counts an adopted id at once when its job was counted already', async () => {
    const a = await enqueueBatch(ctx, { ids: IdSet.of([50]), refresh: true, spec: '50' });
    await commits.commit(work(50, a.batchId)); // counted; BullMQ has not moved the job on yet
    const b = await enqueueBatch(ctx, { ids: IdSet.of([50]), refresh: true, spec: '50' });
    expect(b).toMatchObject({ added: 0, alreadyQueued: 1 });
    expect(await ctx.batches.read(b.batchId)).toMatchObject({ adopted: { completed: 1, failed: 0 } });
    expect((await ctx.batches.read(b.batchId))!.finishedAt).not.toBeNull();
    await ctx.queue.obliterate({ force: true });
  });

  it('adopts, rather than waits forever for, ids a racing producer queued first', async () => {
    // As if another producer's addBulk landed between our classify and our addBulk: its job for
    // id 70 exists with its batch id, and BullMQ ignores ours.
    const other = await enqueueBatch(ctx, { ids: IdSet.of([70]), refresh: false, spec: '70' });
    const mine = 'b-mx0000aa-abcdef';
    await ctx.batches.create({ batchId: mine, spec: '70-71', requested: 2, refresh: false });
    await ctx.batches.countIn(mine, 2, 0);
    await ctx.queue.add('fetch', { id: 71, batchId: mine }, { jobId: jobIdFor(71) });
    expect(await ctx.batches.adopt(mine, [70, 71], 'check')).toBe(1);
    await ctx.batches.seal(mine);
    expect(await ctx.batches.read(mine)).toMatchObject({ added: 1, queued: 1 });
    await commits.commit(work(71, mine));
    expect((await ctx.batches.read(mine))!.finishedAt).toBeNull();
    await commits.commit(work(70, other.batchId));
    expect(await ctx.batches.read(mine)).toMatchObject({ completed: 1, adopted: { completed: 1 } });
    expect((await ctx.batches.read(mine))!.finishedAt).not.toBeNull();
    await ctx.queue.obliterate({ force: true });
  });

  it('does not finish a batch before it is sealed, however many of its jobs have ended', async () => {
    const id = 'b-mx0000ab-abcdef';
    await ctx.batches.create({ batchId: id, spec: '80-81', requested: 2, refresh: false });
    await ctx.batches.countIn(id, 1, 0);
    await commits.commit(work(80, id)); // the first chunk's only job ends before the second chunk is in
    const open = (await ctx.batches.read(id))!;
    expect(open).toMatchObject({ completed: 1, finishedAt: null, sealedAt: null });
    // While open, the ids not looked at yet count as work left.
    expect(progressOf(open)).toMatchObject({ total: 2, done: 1, finished: false });
    await ctx.batches.countIn(id, 1, 0);
    await commits.commit(work(81, id));
    expect((await ctx.batches.read(id))!.finishedAt).toBeNull();
    expect(await ctx.batches.seal(id)).toBe(true); // sealed with nothing left: finished at once
    expect((await ctx.batches.read(id))!.finishedAt).not.toBeNull();
  });

  it('enqueues a million-id spec a chunk at a time, counting each chunk in before adding it', async () => {
    // 12,000 ids: three rounds of ENQUEUE_CHUNK; the batch's counters after it say where each id went.
    const stored = [100_003, 107_000, 111_999];
    for (const i of stored) await ctx.store.put(recordFor(i));
    const r = await enqueueBatch(ctx, { ids: IdSet.fromRanges([[100_001, 112_000]]), refresh: false, spec: '100001-112000' });
    expect(r).toMatchObject({ requested: 12_000, added: 12_000 - 3, alreadyStored: 3, alreadyQueued: 0 });
    const snap = (await ctx.batches.read(r.batchId))!;
    expect(snap).toMatchObject({ requested: 12_000, added: 11_997, stored: 3, queued: 0 });
    expect(snap.sealedAt).not.toBeNull();
    expect(await ctx.queue.getWaitingCount()).toBe(11_997);
    await ctx.queue.obliterate({ force: true });
  });

  it('finishes at once a batch whose ids are all stored', async () => {
    await ctx.store.put(recordFor(900));
    const r = await enqueueBatch(ctx, { ids: IdSet.of([900]), refresh: false, spec: '900' });
    expect(r).toMatchObject({ added: 0, alreadyStored: 1 });
    expect(progressOf((await ctx.batches.read(r.batchId))!)).toMatchObject({ total: 0, fraction: 1, finished: true, etaMs: 0 });
  });
});

describe('following a batch: progress() and done()', () => {
  const PREFIX = 'bw';
  let redis: TestRedis;
  let app: Redis;
  let batches: BatchStore;
  let finish: (w: FinishedWork) => Promise<number>;
  let stats: FleetStatsRecorder;
  let finished: FinishedBatches;

  beforeAll(async () => {
    redis = await startTestRedis();
    app = new Redis(redis.url);
    batches = new BatchStore(app, PREFIX);
    stats = new FleetStatsRecorder(app, PREFIX, log);
    finish = workerSide(new GroupCommit(app, new RecordStore(app, PREFIX), batches), stats);
    finished = new FinishedBatches(app, batches.keys.batchFinishedChannel, log);
    // As a worker does: the batch's timing is flushed the moment it is heard finished.
    finished.onFinished(() => void stats.flush());
  });
  afterAll(async () => {
    finished.close();
    app.disconnect();
    await redis.stop();
  });

  it('ends on the published message though its poll interval is ten minutes, for every consumer', async () => {
    await enqueued(batches, 'b-heard', 2);
    const watch = new BatchWatch({ batches, finished, log }, 'b-heard');
    const seen: number[] = [];
    const following = (async () => {
      for await (const p of watch.progress({ pollMs: 600_000 })) seen.push(p.done);
    })();
    const done = watch.done();
    const doneAgain = watch.done();
    await new Promise((r) => setTimeout(r, 100)); // both asleep for ten minutes now
    await finish(work(1, 'b-heard'));
    await finish(work(2, 'b-heard'));
    // A ten-minute poll would trip jest's 60 s timeout: only the message can end these.
    await following;
    expect(seen[0]).toBe(0);
    expect(seen.at(-1)).toBe(2);
    const summary = await done;
    expect(summary).toMatchObject({ batchId: 'b-heard', completed: 2 });
    expect(summary.timing.total.count).toBe(2); // it waited for the flush the end set off
    expect(await doneAgain).toBe(summary); // one summary, shared
  });

  it('ignores other batches finishing, and still ends by polling when no message comes', async () => {
    await enqueued(batches, 'b-mine', 1);
    await enqueued(batches, 'b-else', 1);
    const done = new BatchWatch({ batches, finished, log }, 'b-mine').done();
    await finish(work(1, 'b-else'));
    // Finished behind the script's back: no message, only a poll can see it.
    await app.hset(batches.keys.batch('b-mine'), { completed: 1, finishedAt: Date.now() });
    await expect(done).resolves.toMatchObject({ completed: 1 });
  });

  it('gives the summary after two flush intervals at most when timing never comes (a worker killed before its flush)', async () => {
    await enqueued(batches, 'b-lost', 1);
    const started = Date.now();
    const done = new BatchWatch({ batches, finished, log }, 'b-lost').done();
    // Counted, but its timing is never flushed: as if the worker died right after the commit.
    await new GroupCommit(app, new RecordStore(app, PREFIX), batches).commit(work(1, 'b-lost'));
    const summary = await done;
    expect(summary).toMatchObject({ completed: 1 });
    expect(summary.timing.total.count).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 1000);
  });

  it('says so when the batch does not exist', async () => {
    await expect(new BatchWatch({ batches, finished, log }, 'b-none').done()).rejects.toThrow(/does not exist/);
  });
});
