import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import { jobIdFor, keysFor } from '../redis/keys';
import { BATCH_TTL_SECONDS } from '../stats/outcome-recorder';
import type { PokemonJobData } from '../types';
import { newBatchId } from './batch-id';
import { EnqueueScripts } from './enqueue-scripts';
import { jobOptions, type PokemonQueue } from './pokemon-queue';
import type { Config } from '../config/variables';

export interface EnqueueRequest {
  ids: readonly number[];
  /** Fetch again even when a record is stored. */
  refresh: boolean;
  /** What the user typed, kept with the batch for display. */
  spec: string;
}

export interface EnqueueResult {
  batchId: string;
  requested: number;
  /** New jobs this batch added (and owns). */
  added: number;
  /** Ids another batch had already queued or started: not added again. */
  alreadyQueued: number;
  /** Ids already in the store: skipped, no request made (unless refresh). */
  alreadyStored: number;
}

export interface ProducerDeps {
  config: Config;
  redis: RedisClient;
  queue: PokemonQueue;
  log: Logger;
}

/**
 * Redis stopped answering part-way through adding a batch's jobs: `added` of them are in for
 * sure (a chunk in flight when the link died may be in too). Enqueuing the same ids again adds
 * the rest; the job ids keep anything from being queued or fetched twice.
 */
export class PartialEnqueueError extends Error {
  override readonly name = 'PartialEnqueueError';
  constructor(
    readonly batchId: string,
    readonly added: number,
    readonly toAdd: number,
    override readonly cause: Error,
  ) {
    super(`batch ${batchId}: ${added} of ${toAdd} jobs added before Redis stopped answering (${cause.message})`);
  }
}

/** How many jobs one `addBulk` call carries: large enough to amortize round trips, small enough to keep Redis responsive. */
export const ADD_BULK_CHUNK = 1000;
/** How many `addBulk` calls are in flight at once; more than two bought nothing in the bench. */
export const ADD_BULK_IN_FLIGHT = 2;

/**
 * Enqueues one batch: one job per id not yet stored and not already queued. Idempotent: a job
 * id is `pokemon-<id>`, so BullMQ itself refuses a second copy of a queued id, even from two
 * producers racing.
 */
export async function enqueueBatch(deps: ProducerDeps, req: EnqueueRequest): Promise<EnqueueResult> {
  const { config, redis, queue } = deps;
  const keys = keysFor(config.queuePrefix);
  const batchId = newBatchId();
  const scripts = new EnqueueScripts(redis);
  const jobKeyPrefix = queue.toKey(jobIdFor(0)).slice(0, -1);
  const classified = await scripts.classify(keys.records, jobKeyPrefix, req.refresh, req.ids);
  const stored = new Set(classified.stored);
  const adopted: number[] = [];
  const toAdd = classified.fresh;
  // All at once, not one id after another: ioredis pipelines them on the one connection, so a
  // repeated `--refresh` of 151 kept jobs costs two round trips instead of 302 (66 ms measured).
  const states = await Promise.all(classified.queued.map((id) => queue.getJobState(jobIdFor(id))));
  const finished: number[] = [];
  for (const [i, id] of classified.queued.entries()) {
    const state = states[i];
    if (state === 'completed' && !req.refresh) {
      // It finished between our store check and now: the record is there, nothing to fetch.
      stored.add(id);
      continue;
    }
    if (state === 'completed' || state === 'failed' || state === 'unknown') {
      // A finished job kept for inspection would make BullMQ ignore the new one: clear it first.
      if (state !== 'unknown') finished.push(id);
      toAdd.push(id);
    } else {
      adopted.push(id);
    }
  }
  await Promise.all(finished.map((id) => queue.remove(jobIdFor(id))));

  const now = Date.now();
  const batchKey = keys.batch(batchId);
  const tx = redis.multi();
  tx.hset(batchKey, {
    spec: req.spec,
    createdAt: now,
    requested: req.ids.length,
    added: toAdd.length,
    queued: adopted.length,
    stored: stored.size,
    refresh: req.refresh ? 1 : 0,
    ...(toAdd.length === 0 && adopted.length === 0 ? { finishedAt: now } : {}),
  });
  tx.expire(batchKey, BATCH_TTL_SECONDS);
  tx.zadd(keys.batches, now, batchId);
  if (adopted.length) {
    tx.sadd(keys.batchAdopted(batchId), ...adopted.map(String));
    tx.expire(keys.batchAdopted(batchId), BATCH_TTL_SECONDS);
  }
  await tx.exec();

  const opts = jobOptions(config);
  const chunks: number[][] = [];
  for (let i = 0; i < toAdd.length; i += ADD_BULK_CHUNK) chunks.push(toAdd.slice(i, i + ADD_BULK_CHUNK));
  let next = 0;
  let failed = false;
  let addedSoFar = 0;
  const addChunks = async () => {
    // After one chunk fails, the other lane stops too: the caller sees the error, not more work.
    while (next < chunks.length && !failed) {
      const chunk = chunks[next++]!;
      try {
        await queue.addBulk(
          chunk.map((id) => ({
            name: 'fetch',
            data: (req.refresh ? { id, batchId, refresh: true } : { id, batchId }) as PokemonJobData,
            opts: { ...opts, jobId: jobIdFor(id) },
          })),
        );
        addedSoFar += chunk.length;
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // Two chunks in flight: while Redis runs one chunk's scripts, this process builds and packs the
  // next, so neither side idles (bare addBulk: ~1.5x the rate of one chunk at a time, bench/RESULTS.md §4). One
  // connection carries both, so Redis still adds the chunks in id order.
  await Promise.all(Array.from({ length: Math.min(ADD_BULK_IN_FLIGHT, chunks.length) }, addChunks)).catch((err: Error) => {
    throw new PartialEnqueueError(batchId, addedSoFar, toAdd.length, err);
  });
  // Another producer may have queued some of these ids between our check and our addBulk; BullMQ
  // then kept its job (same job id) and ignored ours. Those are adopted, not added: otherwise this
  // batch would wait forever for jobs that report to the other batch.
  const lost = await scripts.ownedElsewhere(keys.records, jobKeyPrefix, batchId, toAdd);
  if (lost.length) {
    const fix = redis.multi();
    fix.hincrby(batchKey, 'added', -lost.length);
    fix.hincrby(batchKey, 'queued', lost.length);
    fix.sadd(keys.batchAdopted(batchId), ...lost.map(String));
    fix.expire(keys.batchAdopted(batchId), BATCH_TTL_SECONDS);
    fix.hmget(batchKey, 'added', 'completed', 'failed');
    const replies = (await fix.exec()) ?? [];
    const [added, completed, failed] = (replies[4]?.[1] as (string | null)[]).map((v) => Number(v ?? 0)) as [number, number, number];
    // Our own jobs may all be done already, in which case no worker will mark the batch finished.
    if (completed + failed >= added) await redis.hsetnx(batchKey, 'finishedAt', Date.now());
  }
  const added = toAdd.length - lost.length;
  deps.log.debug({ batchId, added, raced: lost.length }, 'batch enqueued');
  return { batchId, requested: req.ids.length, added, alreadyQueued: adopted.length + lost.length, alreadyStored: stored.size };
}
