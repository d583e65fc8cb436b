import type { RedisClient } from '../redis/connection';
import type { JobOutcome } from '../types';

/** One finished job as the timings stream holds it. */
export interface FinishedJob {
  /**
   * When Redis added the entry (the stream id's time), ms since the epoch. Redis's clock, not the
   * worker's: workers on several machines with drifting clocks still land in the right minute.
   */
  at: number;
  outcome: JobOutcome;
  /** Failure reason; '' when completed. */
  reason: string;
  waitMs: number;
  /** Null when the store already had the record and nothing was fetched. */
  fetchMs: number | null;
  totalMs: number;
  workerId: string;
  batchId: string;
}

/** How far back the per-minute throughput chart reaches. */
export const THROUGHPUT_HISTORY_MS = 60 * 60_000;
/** Percentiles cover the jobs finished this recently... */
export const TIMING_WINDOW_MS = 5 * 60_000;
/** ...or, when fewer finished in that time, this many latest jobs (so an idle queue still shows its last batch). */
export const TIMING_WINDOW_MIN_JOBS = 1000;
/** Entries per XRANGE call: bounded replies, so one large backlog never blocks Redis for long. */
const READ_CHUNK = 5000;

/**
 * The last hour of the `<prefix>:timings` stream, as the dashboard needs it: per-minute counts and
 * the jobs of the timing window. Reads the stream incrementally (only entries newer than the last
 * one seen), so a page polling every two seconds costs a few small XRANGEs, not an hour of entries.
 * The stream is written by every worker everywhere, so everything here is cluster-wide.
 */
export class RecentJobs {
  /** Id of the newest entry read. */
  private cursor: string | undefined;
  /** Minute start (ms) → finished jobs that minute. */
  private readonly minutes = new Map<number, { completed: number; failed: number }>();
  /** Oldest first: the timing window and at least the last few minutes. */
  private jobs: FinishedJob[] = [];
  private reading: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly streamKey: string,
  ) {}

  /**
   * Reads the entries added since the last call (the last hour on the first). Concurrent callers
   * share one read, so two pages polling at once never count an entry twice.
   */
  refresh(now: number): Promise<void> {
    this.reading ??= this.readNew(now).finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  /** Finished jobs per minute, oldest first, `minutes` of them ending with the current (partial) one. */
  perMinute(now: number, minutes = THROUGHPUT_HISTORY_MS / 60_000): { t: number; completed: number; failed: number }[] {
    const current = Math.floor(now / 60_000) * 60_000;
    const out = [];
    for (let t = current - (minutes - 1) * 60_000; t <= current; t += 60_000) {
      out.push({ t, ...(this.minutes.get(t) ?? { completed: 0, failed: 0 }) });
    }
    return out;
  }

  /** Finished jobs per second over the last `windowMs`. */
  jobsPerSecond(now: number, windowMs: number): number {
    return (this.since(now - windowMs).length / windowMs) * 1000;
  }

  /**
   * Jobs per second in consecutive `bucketMs` slices covering the last `spanMs`, oldest first.
   * The slice still filling up is left out: it would always show a dip.
   */
  rateSeries(now: number, bucketMs: number, spanMs: number): { t: number; jobsPerSecond: number }[] {
    const end = Math.floor(now / bucketMs) * bucketMs;
    const start = end - spanMs;
    const counts = new Array<number>(Math.round(spanMs / bucketMs)).fill(0);
    for (const job of this.since(start)) {
      if (job.at >= end) break;
      counts[Math.floor((job.at - start) / bucketMs)]!++;
    }
    return counts.map((n, i) => ({ t: start + i * bucketMs, jobsPerSecond: (n / bucketMs) * 1000 }));
  }

  /** The jobs the timing percentiles cover: see {@link TIMING_WINDOW_MS} and {@link TIMING_WINDOW_MIN_JOBS}. */
  timingWindow(now: number): FinishedJob[] {
    const recent = this.since(now - TIMING_WINDOW_MS);
    return recent.length >= TIMING_WINDOW_MIN_JOBS ? recent : this.jobs.slice(-TIMING_WINDOW_MIN_JOBS);
  }

  /** Jobs finished since `from` (ms), oldest first. */
  since(from: number): FinishedJob[] {
    // Entries arrive in time order: binary search for the first one at or after `from`.
    let lo = 0;
    let hi = this.jobs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.jobs[mid]!.at < from) lo = mid + 1;
      else hi = mid;
    }
    return this.jobs.slice(lo);
  }

  /** Finished jobs in the last `windowMs`, counted by `key` (e.g. worker or batch id). */
  countBy(now: number, windowMs: number, key: (job: FinishedJob) => string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const job of this.since(now - windowMs)) counts.set(key(job), (counts.get(key(job)) ?? 0) + 1);
    return counts;
  }

  private async readNew(now: number): Promise<void> {
    let start = this.cursor ? `(${this.cursor}` : String(now - THROUGHPUT_HISTORY_MS);
    for (;;) {
      const entries = await this.redis.xrange(this.streamKey, start, '+', 'COUNT', READ_CHUNK);
      for (const [id, fields] of entries) this.add(parseEntry(id, fields));
      if (entries.length > 0) {
        this.cursor = entries[entries.length - 1]![0];
        start = `(${this.cursor}`;
      }
      if (entries.length < READ_CHUNK) break;
    }
    this.prune(now);
  }

  private add(job: FinishedJob): void {
    const minute = Math.floor(job.at / 60_000) * 60_000;
    const counts = this.minutes.get(minute) ?? { completed: 0, failed: 0 };
    counts[job.outcome]++;
    this.minutes.set(minute, counts);
    this.jobs.push(job);
  }

  private prune(now: number): void {
    for (const minute of this.minutes.keys()) {
      if (minute <= now - THROUGHPUT_HISTORY_MS) this.minutes.delete(minute);
    }
    const keepFrom = this.since(now - TIMING_WINDOW_MS).length;
    const keep = Math.max(keepFrom, TIMING_WINDOW_MIN_JOBS);
    if (this.jobs.length > keep) this.jobs = this.jobs.slice(-keep);
  }
}

function parseEntry(id: string, fields: string[]): FinishedJob {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const fetch = Number(f.f ?? -1);
  return {
    at: Number(id.slice(0, id.indexOf('-'))),
    outcome: f.o === 'failed' ? 'failed' : 'completed',
    reason: f.r ?? '',
    waitMs: Number(f.w ?? 0),
    fetchMs: fetch >= 0 ? fetch : null,
    totalMs: Number(f.T ?? 0),
    workerId: f.k ?? '',
    batchId: f.b ?? '',
  };
}
