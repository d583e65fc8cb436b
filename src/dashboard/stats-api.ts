import { liveWorkers, type WorkerHeartbeat } from '../queue/worker-heartbeat';
import type { PokemonQueue } from '../queue/pokemon-queue';
import type { RedisClient } from '../redis/connection';
import { keysFor } from '../redis/keys';
import { readBatch, recentBatchIds, type BatchSnapshot } from '../stats/batch-report';
import { bucketIndex, DURATION_BUCKETS_MS } from '../stats/buckets';
import { percentiles, type Percentiles } from '../stats/percentiles';
import { JOB_STATES } from '../stats/queue-status';
import type { RecordStore } from '../store/record-store';
import { RecentJobs, THROUGHPUT_HISTORY_MS, TIMING_WINDOW_MIN_JOBS, TIMING_WINDOW_MS, type FinishedJob } from './recent-jobs';

/** "Jobs/s now" is the rate over this many last milliseconds: short enough to react, long enough not to flicker. */
export const NOW_WINDOW_MS = 10_000;
/** The jobs/s chart: one point per slice, covering the last few minutes. */
export const RATE_SERIES_BUCKET_MS = 5_000;
export const RATE_SERIES_SPAN_MS = 5 * 60_000;
/** A worker's (and a batch's) current rate is taken over this window. */
export const PER_WORKER_WINDOW_MS = 60_000;
/** Batches listed, newest first. */
export const BATCHES_SHOWN = 10;

export interface BatchStats extends BatchSnapshot {
  /** Own jobs finished (completed + failed). */
  done: number;
  /** done / added, 0..1; 1 for a batch that added nothing. */
  progress: number;
  /** Jobs of this batch finished per second over the last minute (or since it began, if younger). */
  jobsPerSecond: number;
  /** Finished jobs per second from creation to the end (or now). */
  averageJobsPerSecond: number;
  /** Seconds left at `jobsPerSecond`; null when finished or not moving. */
  etaSeconds: number | null;
  failures: Record<string, number>;
}

export interface WorkerStats extends WorkerHeartbeat {
  /** Jobs this worker finished per second over the last minute (or since it started, if younger). */
  jobsPerSecond: number;
}

/** What `/api/stats` returns and `/stats` draws. Times are ms since the epoch, by Redis's clock. */
export interface DashboardStats {
  generatedAt: number;
  prefix: string;
  queue: { counts: Record<string, number>; paused: boolean; stored: number };
  /** Since the store began (the totals hash). */
  totals: { completed: number; failed: number; retries: number; failedByReason: Record<string, number> };
  throughput: {
    /** Over the last {@link NOW_WINDOW_MS}. */
    jobsPerSecond: number;
    nowWindowSeconds: number;
    /** The last few minutes in {@link RATE_SERIES_BUCKET_MS} slices, oldest first. */
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

export interface StatsDeps {
  redis: RedisClient;
  queue: PokemonQueue;
  store: RecordStore;
  prefix: string;
}

/**
 * Builds `/api/stats` from what every worker records in Redis, so it describes the whole cluster,
 * not this process. Keeps one {@link RecentJobs} between calls to read the timings stream
 * incrementally.
 */
export class StatsReader {
  private readonly recent: RecentJobs;

  constructor(private readonly deps: StatsDeps) {
    this.recent = new RecentJobs(deps.redis, keysFor(deps.prefix).timings);
  }

  async read(): Promise<DashboardStats> {
    const { redis, queue, store, prefix } = this.deps;
    const keys = keysFor(prefix);
    const now = await redisNow(redis);
    const [, counts, paused, stored, totalsHash, workers, batchIds] = await Promise.all([
      this.recent.refresh(now),
      queue.getJobCounts(...JOB_STATES),
      queue.isPaused(),
      store.count(),
      redis.hgetall(keys.totals),
      // Heartbeats carry the workers' own clock times; judge them like `status` does, by ours.
      liveWorkers(redis, prefix),
      recentBatchIds(redis, prefix, BATCHES_SHOWN),
    ]);
    const batches = await Promise.all(batchIds.map((id) => this.batchStats(id, now)));
    return {
      generatedAt: now,
      prefix,
      queue: { counts, paused, stored },
      totals: totalsFrom(totalsHash),
      throughput: {
        jobsPerSecond: this.recent.jobsPerSecond(now, NOW_WINDOW_MS),
        nowWindowSeconds: NOW_WINDOW_MS / 1000,
        perSecond: this.recent.rateSeries(now, RATE_SERIES_BUCKET_MS, RATE_SERIES_SPAN_MS),
        perMinute: this.recent.perMinute(now, THROUGHPUT_HISTORY_MS / 60_000),
      },
      timing: timingOf(this.recent.timingWindow(now)),
      batches: batches.filter((b): b is BatchStats => b !== null),
      workers: this.workerStats(workers, now),
    };
  }

  private async batchStats(batchId: string, now: number): Promise<BatchStats | null> {
    const [snap, failures] = await Promise.all([
      readBatch(this.deps.redis, this.deps.prefix, batchId),
      this.deps.redis.hgetall(keysFor(this.deps.prefix).batchFailures(batchId)),
    ]);
    if (!snap) return null;
    const done = snap.completed + snap.failed;
    const end = snap.finishedAt ?? now;
    const averageJobsPerSecond = (done / Math.max(1, end - snap.createdAt)) * 1000;
    let jobsPerSecond = averageJobsPerSecond;
    if (snap.finishedAt === null) {
      const windowMs = clamp(now - snap.createdAt, 1000, PER_WORKER_WINDOW_MS);
      const recent = this.recent.countBy(now, windowMs, (j) => j.batchId).get(batchId) ?? 0;
      jobsPerSecond = (recent / windowMs) * 1000;
    }
    const remaining = Math.max(0, snap.added - done);
    return {
      ...snap,
      done,
      progress: snap.added === 0 ? 1 : Math.min(1, done / snap.added),
      jobsPerSecond,
      averageJobsPerSecond,
      etaSeconds: snap.finishedAt === null && jobsPerSecond > 0 ? remaining / jobsPerSecond : null,
      failures: Object.fromEntries(Object.entries(failures).map(([k, v]) => [k, Number(v)])),
    };
  }

  private workerStats(workers: WorkerHeartbeat[], now: number): DashboardStats['workers'] {
    const finished = this.recent.countBy(now, PER_WORKER_WINDOW_MS, (j) => j.workerId);
    const list = workers.map((w) => {
      // A worker younger than the window would look slow if divided by the whole window.
      const windowMs = clamp(now - w.startedAt, 1000, PER_WORKER_WINDOW_MS);
      return { ...w, jobsPerSecond: ((finished.get(w.id) ?? 0) / windowMs) * 1000 };
    });
    return {
      live: new Set(list.map((w) => `${w.host}:${w.pid}`)).size,
      hosts: new Set(list.map((w) => w.host)).size,
      concurrency: list.reduce((n, w) => n + w.concurrency, 0),
      inFlight: list.reduce((n, w) => n + w.inFlight, 0),
      jobsPerSecond: list.reduce((n, w) => n + w.jobsPerSecond, 0),
      list,
    };
  }
}

/** Redis's clock, which also stamps the stream ids: one time base for every machine. */
async function redisNow(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

function totalsFrom(h: Record<string, string>): DashboardStats['totals'] {
  const failedByReason: Record<string, number> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('failed:')) failedByReason[field.slice('failed:'.length) || 'unknown'] = Number(value);
  }
  return { completed: Number(h.completed ?? 0), failed: Number(h.failed ?? 0), retries: Number(h.retries ?? 0), failedByReason };
}

function timingOf(jobs: FinishedJob[]): DashboardStats['timing'] {
  const wait = jobs.map((j) => j.waitMs);
  const fetch = jobs.filter((j) => j.fetchMs !== null).map((j) => j.fetchMs!);
  const total = jobs.map((j) => j.totalMs);
  const histogram = (values: number[]) => {
    const counts = new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0);
    for (const v of values) counts[bucketIndex(v)]!++;
    return counts;
  };
  return {
    window: {
      jobs: jobs.length,
      // Failed jobs carry no fetch time either, but they did make a request.
      cached: jobs.filter((j) => j.outcome === 'completed' && j.fetchMs === null).length,
      from: jobs[0]?.at ?? null,
      to: jobs[jobs.length - 1]?.at ?? null,
      description: `jobs finished in the last ${TIMING_WINDOW_MS / 60_000} minutes, or the last ${TIMING_WINDOW_MIN_JOBS} jobs of the last hour when fewer`,
    },
    wait: percentiles(wait),
    fetch: percentiles(fetch),
    total: percentiles(total),
    histogram: {
      upperBoundsMs: [...DURATION_BUCKETS_MS, null],
      wait: histogram(wait),
      fetch: histogram(fetch),
      total: histogram(total),
    },
  };
}

const clamp = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v));
