import type { Logger } from 'pino';
import { newBatchId } from '../batch/batch-id';
import type { BatchStore } from '../batch/batch-store';
import type { Config } from '../config/variables';
import { jobIdFor } from '../redis/schema';
import type { PokemonJobData } from '../types';
import { jobOptions } from './job-policy';
import type { PokemonQueue } from './pokemon-queue';

export interface EnqueueRequest {
  ids: readonly number[];
  /** Fetch again even when a record is stored. */
  refresh: boolean;
  /** What the user typed, kept with the batch for display. */
  spec: string;
}

/** What enqueueing a batch did: `enqueue --json` prints it. */
export interface EnqueueResult {
  batchId: string;
  requested: number;
  /** New jobs this batch added (and owns). */
  added: number;
  /** Ids another batch had already queued or started: not added again, but waited for. */
  alreadyQueued: number;
  /** Ids already in the store: skipped, no request made (unless refresh). */
  alreadyStored: number;
}

export interface ProducerDeps {
  config: Config;
  queue: PokemonQueue;
  batches: BatchStore;
  log: Logger;
}

/** How many jobs one `addBulk` call carries: large enough to amortize round trips, small enough to keep Redis responsive. */
export const ADD_BULK_CHUNK = 1000;
/** How many `addBulk` calls are in flight at once; more than two bought nothing in the bench. */
export const ADD_BULK_IN_FLIGHT = 2;

/**
 * Enqueues one batch: one job per id not yet stored and not already queued. Idempotent: a job
 * id is `pokemon-<id>`, so BullMQ itself refuses a second copy of a queued id, even from two
 * producers racing; ids another batch is fetching are adopted (waited for), not added again.
 */
export async function enqueueBatch(deps: ProducerDeps, req: EnqueueRequest): Promise<EnqueueResult> {
  const { config, queue, batches } = deps;
  const batchId = newBatchId();
  const ids = await batches.classify(req.ids, req.refresh);
  // A finished job kept for inspection would make BullMQ ignore the new one: clear it first. All
  // at once, not one after another: ioredis pipelines them on the one connection.
  await Promise.all(ids.finished.map((id) => queue.remove(jobIdFor(id))));
  const toAdd = [...ids.fresh, ...ids.finished].sort((a, b) => a - b);

  await batches.create({
    batchId,
    spec: req.spec,
    requested: req.ids.length,
    added: toAdd.length,
    queued: ids.live.length,
    stored: ids.stored.length,
    refresh: req.refresh,
  });
  if (ids.live.length) await batches.adopt(batchId, ids.live, 'adopt');

  const opts = jobOptions(config);
  let next = 0;
  let failed = false;
  const addChunks = async () => {
    // After one chunk fails, the other lane stops too: the caller sees the error, not more work.
    while (next < toAdd.length && !failed) {
      const chunk = toAdd.slice(next, (next += ADD_BULK_CHUNK));
      try {
        await queue.addBulk(
          chunk.map((id) => ({
            name: 'fetch',
            data: (req.refresh ? { id, batchId, refresh: true } : { id, batchId }) as PokemonJobData,
            opts: { ...opts, jobId: jobIdFor(id) },
          })),
        );
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // Two chunks in flight: while Redis runs one chunk's scripts, this process builds and packs the
  // next, so neither side idles (bare addBulk: ~1.5x the rate of one chunk at a time, bench/RESULTS.md §4). One
  // connection carries both, so Redis still adds the chunks in id order.
  await Promise.all(Array.from({ length: Math.min(ADD_BULK_IN_FLIGHT, Math.ceil(toAdd.length / ADD_BULK_CHUNK)) }, addChunks));
  // Another producer may have queued some of these ids between our check and our addBulk; BullMQ
  // then kept its job (same job id) and ignored ours. Those are adopted, not counted as ours:
  // otherwise this batch would wait forever for jobs that report to the other batch.
  const raced = toAdd.length ? await batches.adopt(batchId, toAdd, 'check') : 0;
  deps.log.debug({ batchId, added: toAdd.length - raced, raced }, 'batch enqueued');
  return {
    batchId,
    requested: req.ids.length,
    added: toAdd.length - raced,
    alreadyQueued: ids.live.length + raced,
    alreadyStored: ids.stored.length,
  };
}
