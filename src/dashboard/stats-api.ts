import { viewOf, type BatchView } from '../batch/batch';
import { summaryFromHash, type BatchStore } from '../batch/batch-store';
import { readQueueStatus, type QueueStatusDeps } from '../queue/queue-status';
import type { WorkerHeartbeat } from '../queue/worker-heartbeat';
import { DURATION_BUCKETS_MS } from '../stats/buckets';
import type { Histogram, Percentiles } from '../stats/histogram';
import {
  readFleetStats,
  recentWindowMs,
  redisNow,
  TIMING_WINDOW_MIN_JOBS,
  TIMING_WINDOW_MS,
  type FleetStats,
} from '../stats/reader';

/** Batches listed, newest first. */
export const BATCHES_SHOWN = 10;

export interface BatchStats extends BatchView {
  /** Jobs of this batch finished per second over the last minute (or since it began, if younger). */
  jobsPerSecond: number;
  /** Own failed jobs by reason. */
  failures: Record<string, number>;
  /** Its timing so far (percentiles within 5%). */
  timing: { wait: Percentiles; fetch: Percentiles; total: Percentiles };
}

export type WorkerStats = WorkerHeartbeat;

/** What `/api/stats` returns and `/stats` draws. Times are ms since the epoch, by Redis's clock. */
export interface DashboardStats {
  generatedAt: number;
  prefix: string;
  queue: { counts: Record<string, number>; paused: boolean; stored: number };
  /** Since the store began. */
  totals: { completed: number; failed: number; retries: number; failedByReason: Record<string, number> };
  throughput: {
    /** Over the last `nowWindowSeconds` (10 s and the current five-second slot so far). */
    jobsPerSecond: number;
    nowWindowSeconds: number;
    /** The last few minutes in five-second slices, oldest first. */
    perSecond: { t: number; jobsPerSecond: number }[];
    /** The last hour, oldest first; the last minute is still filling up. */
    perMinute: { t: number; completed: number; failed: number }[];
  };
  timing: {
    /** Which jobs the percentiles and the histogram cover. */
    window: { jobs: number; /** Completed from the store, no request made. */ cached: number; from: number | null; to: number | null; description: string };
    wait: Percentiles;
    /** Only jobs that made a request (not those answered from the store). */
    fetch: Percentiles;
    total: Percentiles;
    /** Counts per bucket; `upperBoundsMs` ends with null for +Inf. */
    histogram: { upperBoundsMs: (number | null)[]; wait: number[]; fetch: number[]; total: number[] };
  };
  batches: BatchStats[];
  workers: {
    /** Distinct processes (host and pid). */
    live: number;
    hosts: number;
    concurrency: number;
    inFlight: number;
    /** Sum over the live workers. */
    jobsPerSecond: number;
    list: WorkerStats[];
  };
}

export interface StatsDeps extends QueueStatusDeps {
  batches: BatchStore;
}

/**
 * Builds `/api/stats` from what every worker records in Redis, so it describes the whole fleet,
 * not this process. Its cost is fixed: a few pipelined reads of counters, slots and histograms,
 * whatever the number of jobs (200,000 jobs in a batch cost what 200 do).
 */
export async function readDashboardStats(deps: StatsDeps): Promise<DashboardStats> {
  const now = await redisNow(deps.redis);
  const batchIds = await deps.batches.recentIds(BATCHES_SHOWN);
  const [status, fleet, batches] = await Promise.all([
    readQueueStatus(deps, now),
    readFleetStats(deps.redis, deps.prefix, now),
    readBatchHashes(deps, batchIds),
  ]);
  const workers = status.workerList;
  return {
    generatedAt: now,
    prefix: deps.prefix,
    queue: { counts: status.counts, paused: status.paused, stored: status.stored },
    totals: {
      completed: fleet.totals.completed,
      failed: fleet.totals.failed,
      retries: fleet.totals.retries,
      failedByReason: fleet.totals.failedByReason,
    },
    throughput: {
      jobsPerSecond: fleet.jobsPerSecondNow,
      nowWindowSeconds: fleet.nowWindowMs / 1000,
      perSecond: fleet.perSecond,
      perMinute: fleet.perMinute,
    },
    timing: timingOf(fleet),
    batches: batches.flatMap(([id, hash]) => {
      const stats = batchStats(id, hash, fleet, now);
      return stats ? [stats] : [];
    }),
    workers: {
      live: status.workers,
      hosts: new Set(workers.map((w) => w.host)).size,
      concurrency: workers.reduce((n, w) => n + w.concurrency, 0),
      inFlight: workers.reduce((n, w) => n + w.inFlight, 0),
      jobsPerSecond: workers.reduce((n, w) => n + (w.jobsPerSecond ?? 0), 0),
      list: workers,
    },
  };
}

async function readBatchHashes(deps: StatsDeps, ids: string[]): Promise<[string, Record<string, string>][]> {
  if (ids.length === 0) return [];
  const pipe = deps.redis.pipeline();
  for (const id of ids) pipe.hgetall(deps.batches.keys.batch(id));
  const replies = (await pipe.exec()) ?? [];
  return ids.map((id, i) => {
    const [err, hash] = replies[i]!;
    if (err) throw err;
    return [id, hash as Record<string, string>];
  });
}

function batchStats(batchId: string, hash: Record<string, string>, fleet: FleetStats, now: number): BatchStats | null {
  const summary = summaryFromHash(batchId, hash, now);
  if (!summary) return null;
  const { timing, failures, wallMs: _wall, jobsPerSecond: _average, ...snapshot } = summary;
  const view = viewOf(snapshot, now);
  let jobsPerSecond = view.averageJobsPerSecond;
  if (view.finishedAt === null) {
    // A batch younger than the window would look slow if divided by the whole window.
    const windowMs = Math.min(recentWindowMs(now), Math.max(1000, now - view.createdAt));
    jobsPerSecond = ((fleet.recentByBatch.get(batchId) ?? 0) / windowMs) * 1000;
  }
  return { ...view, jobsPerSecond, failures, timing };
}

function timingOf(fleet: FleetStats): DashboardStats['timing'] {
  const { histograms, jobs, cached, from, to } = fleet.timingWindow;
  const counts = (h: Histogram) => h.countsWithin(DURATION_BUCKETS_MS);
  return {
    window: {
      jobs,
      cached,
      from,
      to,
      description: `jobs finished in the last ${TIMING_WINDOW_MS / 60_000} minutes, or in the last minutes of the hour that hold ${TIMING_WINDOW_MIN_JOBS} jobs when fewer; percentiles within 5%`,
    },
    wait: histograms.wait.percentiles(),
    fetch: histograms.fetch.percentiles(),
    total: histograms.total.percentiles(),
    histogram: {
      upperBoundsMs: [...DURATION_BUCKETS_MS, null],
      wait: counts(histograms.wait),
      fetch: counts(histograms.fetch),
      total: counts(histograms.total),
    },
  };
}
