/**
 * What a batch is, as every view shows it: its snapshot (the counters in Redis), its progress
 * (one computation, used by `enqueue --wait`, `status`, `/stats`, `/api/stats`, `/metrics`, the
 * library and the bench alike) and its end-of-batch summary. Pure: reading and writing Redis is
 * batch-store.ts's job.
 */
import { printable } from '../printable';
import type { Percentiles } from '../stats/histogram';
import { isBatchId } from './batch-id';

/** A batch as its counters stand now. */
export interface BatchSnapshot {
  batchId: string;
  /** What the user typed. */
  spec: string;
  /** ms since the epoch. */
  createdAt: number;
  /**
   * When every id was enqueued (the producer enqueues a chunk at a time); null while it is still
   * being enqueued, or when its producer stopped halfway (enqueue the same spec again to finish).
   */
  sealedAt: number | null;
  /** When its last job was counted; null while it runs. */
  finishedAt: number | null;
  requested: number;
  /** Jobs this batch added (its own). */
  added: number;
  /** Ids another batch was already fetching: this batch waits for them too. */
  queued: number;
  /** Ids skipped because the store had them. */
  stored: number;
  /** Own jobs that ended stored. */
  completed: number;
  /** Own jobs that ended failed. */
  failed: number;
  /** Jobs that needed more than one attempt. */
  retried: number;
  /** Failed attempts that were tried again. */
  retries: number;
  /** Own jobs completed from the store, without a request. */
  cached: number;
  /** How the ids another batch was fetching ended, so far. */
  adopted: { completed: number; failed: number };
}

/** How far a batch is: the same numbers in every view. */
export interface BatchProgress {
  batchId: string;
  /** Jobs the batch waits for: its own plus those another batch was already fetching. */
  total: number;
  /** Of those, how many ended (stored or failed). */
  done: number;
  completed: number;
  failed: number;
  /** done / total, from 0 to 1; 1 for a batch that waits for nothing. */
  fraction: number;
  /** Jobs finished per second, from creation to the end (or now). */
  rate: number;
  /** Milliseconds left at that rate; 0 once finished, null before there is a rate. */
  etaMs: number | null;
  finished: boolean;
}

/**
 * The end-of-batch summary: what `enqueue --wait --json` prints and `batch.done()` returns. The
 * timing percentiles come from histograms (within 5%, see stats/histogram.ts).
 */
export interface BatchSummary extends BatchSnapshot {
  wallMs: number;
  jobsPerSecond: number;
  timing: { wait: Percentiles; fetch: Percentiles; total: Percentiles };
  /** Own failed jobs by reason. */
  failures: Record<string, number>;
}

export function progressOf(s: BatchSnapshot, now = Date.now()): BatchProgress {
  // While it is being enqueued, the ids not yet looked at are counted as jobs to wait for.
  const total = s.sealedAt === null ? Math.max(s.added + s.queued, s.requested - s.stored) : s.added + s.queued;
  const completed = s.completed + s.adopted.completed;
  const failed = s.failed + s.adopted.failed;
  const done = completed + failed;
  const finished = s.finishedAt !== null;
  const end = s.finishedAt ?? now;
  const rate = (done / Math.max(1, end - s.createdAt)) * 1000;
  let etaMs: number | null = null;
  if (finished) etaMs = 0;
  else if (rate > 0) etaMs = (Math.max(0, total - done) / rate) * 1000;
  return { batchId: s.batchId, total, done, completed, failed, fraction: total === 0 ? 1 : Math.min(1, done / total), rate, etaMs, finished };
}

/** Whether the batch ended with any failure, its own or of an id it waited for: `--wait` exits 1. */
export function hasFailures(s: BatchSnapshot): boolean {
  return s.failed + s.adopted.failed > 0;
}

/**
 * A batch as the fleet views list it (`status --json`, `/api/stats`): its counters with its
 * progress flattened in, from {@link progressOf}.
 */
export interface BatchView extends BatchSnapshot {
  /** Jobs the batch waits for: its own and the adopted ones. */
  total: number;
  /** Of those, how many ended. */
  done: number;
  /** done / total, 0..1. */
  progress: number;
  /** Finished jobs per second from creation to the end (or now). */
  averageJobsPerSecond: number;
  /** Seconds left at that rate; null when finished or not moving. */
  etaSeconds: number | null;
}

export function viewOf(s: BatchSnapshot, now = Date.now()): BatchView {
  const p = progressOf(s, now);
  return {
    ...s,
    total: p.total,
    done: p.done,
    progress: p.fraction,
    averageJobsPerSecond: p.rate,
    etaSeconds: p.finished || p.etaMs === null ? null : p.etaMs / 1000,
  };
}

/** The batch does not exist: never created, expired (a week after its last job), or not a batch id at all. */
export class BatchNotFoundError extends Error {
  override readonly name = 'BatchNotFoundError';
  constructor(readonly batchId: string) {
    // An id that pokequeue never makes is quoted, cut short and made printable: it came from a caller.
    super(`batch ${isBatchId(batchId) ? batchId : `"${printable(batchId.slice(0, 80))}"`} does not exist (or expired)`);
  }
}

/**
 * Following a batch, Redis gave no answer for `silentMs`: the wait stops (the batch itself goes
 * on, and following it again resumes). `last` is the progress last seen, if any.
 */
export class BatchWatchLostError extends Error {
  override readonly name = 'BatchWatchLostError';
  constructor(
    readonly batchId: string,
    readonly silentMs: number,
    readonly last: BatchProgress | undefined,
  ) {
    const seen = last ? ` (last seen: ${last.done}/${last.total} done, ${last.failed} failed)` : '';
    super(`no answer from Redis for ${Math.round(silentMs / 1000)} s while following batch ${batchId}${seen}`);
  }
}

/**
 * Enqueueing failed part-way, as when Redis stopped answering: the batch exists, unsealed, with the
 * jobs of `added` ids in for sure (a call in flight when it failed may be in too). Enqueuing the
 * same spec again adds the rest; the job ids keep anything from being queued or fetched twice.
 */
export class PartialEnqueueError extends Error {
  override readonly name = 'PartialEnqueueError';
  constructor(
    readonly batchId: string,
    readonly added: number,
    readonly requested: number,
    override readonly cause: Error,
  ) {
    super(`batch ${batchId} was only partly enqueued: ${added} of its ${requested} ids had their jobs added when it failed (${cause.message})`);
  }
}
