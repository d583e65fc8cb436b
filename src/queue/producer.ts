import type { Logger } from 'pino';
import { PartialEnqueueError } from '../batch/batch';
import { newBatchId } from '../batch/batch-id';
import type { BatchStore } from '../batch/batch-store';
import type { Config } from '../config/variables';
import type { IdSet } from '../ids/id-set';
import { jobIdFor } from '../redis/schema';
import type { PokemonJobData } from '../types';
import { jobOptions } from './job-policy';
import type { PokemonQueue } from './pokemon-queue';

export interface EnqueueRequest {
  ids: IdSet;
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


/** Ids looked at per round: each round is one classify and one adopt script call, and its addBulks. */
export const ENQUEUE_CHUNK = 5000;
/**
 * How many jobs one `addBulk` call carries. BullMQ builds and encodes a whole call's jobs in one
 * synchronous step, so this bounds how long enqueueing holds the caller's event loop (a server
 * that enqueues keeps answering meanwhile) as well as how long Redis runs one client's commands
 * in a row. 100,000 ids, no worker, the caller's event-loop delay at p99
 * (perf_hooks.monitorEventLoopDelay): ~33 ms at 1000 per call, ~17-20 ms at 500, ~10-12 ms at
 * 250. At 250, though, Redis spent ~2% more CPU per job while a worker ran alongside (bench
 * scenario 7); at 500 it did not (bench/CHANGES.md, eighth round).
 */
export const ADD_BULK_CHUNK = 500;
/** How many `addBulk` calls are in flight at once; more than two bought nothing in the bench. */
export const ADD_BULK_IN_FLIGHT = 2;

/**
 * Enqueues one batch: one job per id not yet stored and not already queued. Idempotent: a job
 * id is `pokemon-<id>`, so BullMQ itself refuses a second copy of a queued id, even from two
 * producers racing; ids another batch is fetching are adopted (waited for), not added again.
 *
 * The ids go ENQUEUE_CHUNK at a time, each round counted into the batch before its jobs are
 * added, so memory stays the same for a million ids as for a hundred. The batch is sealed at the
 * end; a producer that stops halfway leaves it unsealed (shown as such), and the same spec
 * enqueued again adds what is missing and adopts the rest: nothing is fetched twice.
 */
export async function enqueueBatch(deps: ProducerDeps, req: EnqueueRequest): Promise<EnqueueResult> {
  const { config, queue, batches } = deps;
  const batchId = newBatchId();
  const requested = req.ids.size;
  await batches.create({ batchId, spec: req.spec, requested, refresh: req.refresh });
  const opts = jobOptions(config);
  const totals = { added: 0, queued: 0, stored: 0 };
  const progress = { added: 0 };
  try {
    await enqueueChunks();
  } catch (err) {
    throw new PartialEnqueueError(batchId, progress.added, requested, err as Error);
  }
  deps.log.debug({ batchId, ...totals }, 'batch enqueued');
  return { batchId, requested, added: totals.added, alreadyQueued: totals.queued, alreadyStored: totals.stored };

  async function enqueueChunks(): Promise<void> {
    for (const chunk of req.ids.chunks(ENQUEUE_CHUNK)) {
      const ids = await batches.classify(chunk, req.refresh);
      // A finished job kept for inspection would make BullMQ ignore the new one: clear it first. All
      // at once, not one after another: ioredis pipelines them on the one connection.
      await Promise.all(ids.finished.map((id) => queue.remove(jobIdFor(id))));
      const toAdd = [...ids.fresh, ...ids.finished].sort((a, b) => a - b);
      await batches.countIn(batchId, toAdd.length, ids.stored.length);
      if (ids.live.length) await batches.adopt(batchId, ids.live, 'adopt');
      await addJobs(queue, toAdd, (id) => ({ name: 'fetch', data: jobData(id, batchId, req.refresh), opts: Object.assign({ jobId: jobIdFor(id) }, opts) }), progress);
      // Another producer may have queued some of these ids between our check and our addBulk; BullMQ
      // then kept its job (same job id) and ignored ours. Those are adopted, not counted as ours:
      // otherwise this batch would wait forever for jobs that report to the other batch.
      const raced = toAdd.length ? await batches.adopt(batchId, toAdd, 'check') : 0;
      totals.added += toAdd.length - raced;
      totals.queued += ids.live.length + raced;
      totals.stored += ids.stored.length;
    }
    await batches.seal(batchId);
  }
}

function jobData(id: number, batchId: string, refresh: boolean): PokemonJobData {
  return refresh ? { id, batchId, refresh: true } : { id, batchId };
}

type BulkJob = Parameters<PokemonQueue['addBulk']>[0][number];

/**
 * addBulk in ADD_BULK_CHUNK calls, two in flight: while Redis runs one call's scripts, this process
 * builds and packs the next, so neither side idles (bare addBulk: ~1.5x the rate of one call at a
 * time, bench/RESULTS.md §4). One connection carries both, so Redis still adds them in id order.
 */
async function addJobs(queue: PokemonQueue, ids: readonly number[], job: (id: number) => BulkJob, progress: { added: number }): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    // After one call fails, the other lane stops too: the caller sees the error, not more work.
    while (next < ids.length && !failed) {
      const chunk = ids.slice(next, (next += ADD_BULK_CHUNK));
      try {
        await queue.addBulk(chunk.map(job));
        progress.added += chunk.length;
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ADD_BULK_IN_FLIGHT, Math.ceil(ids.length / ADD_BULK_CHUNK)) }, lane));
}
