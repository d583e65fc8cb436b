import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import {
  countField,
  FAILURE_FIELD_PREFIX,
  histogramField,
  keysFor,
  MINUTE_SLOT_MS,
  MINUTE_SLOT_TTL_SECONDS,
  PHASES,
  RETRY_FIELD_PREFIX,
  SHORT_SLOT_MS,
  SHORT_SLOT_TTL_SECONDS,
  SLOT_BATCH_FIELD_PREFIX,
  slotStart,
  STATS_FIELD,
  sumField,
  type Keys,
  type Phase,
} from '../redis/schema';
import type { FinishedJob } from '../types';
import { bucketUpperBound } from './histogram';

/** How often a worker writes what it counted: the most timing data a crash can lose, per worker. */
export const STATS_FLUSH_INTERVAL_MS = 1000;

/** The window of a worker's own rate, as its heartbeat reports it. */
const OWN_RATE_WINDOW_MS = 60_000;

/**
 * The fleet statistics of one worker process: every job it finishes is counted here, in memory,
 * into the all-time totals, the minute slot and the five-second slot it finished in, and the
 * sums go to Redis in one MULTI of HINCRBYs every {@link STATS_FLUSH_INTERVAL_MS} (and at
 * shutdown). So the dashboard's charts, percentiles and `/metrics` cost Redis a few hundred
 * field increments per second per worker, not a script per job; a `kill -9` loses at most the
 * last interval's counts of that one worker. Batch counters are not kept here: they are exact,
 * in record-outcomes.
 *
 * Slots are placed by Redis's clock (the worker's, corrected by the offset each flush measures),
 * so workers on machines with drifting clocks fill the same minute.
 */
export class FleetStatsRecorder {
  private readonly keys: Keys;
  /** key → field → increment, since the last flush. */
  private pending = new Map<string, Map<string, number>>();
  /** Slot key → its TTL (s); the totals hash has none. */
  private readonly ttls = new Map<string, number>();
  /** Redis's clock minus ours, ms. */
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** This worker's finished jobs per second of the last minute, oldest first (a ring by second). */
  private readonly ownCounts = new Map<number, number>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly log: Logger,
    private readonly flushMs = STATS_FLUSH_INTERVAL_MS,
  ) {
    this.keys = keysFor(prefix);
  }

  /** Counts one job (one whose batch counted it: a job that ran twice is not counted again). */
  record(job: FinishedJob): void {
    const now = Date.now() + this.offsetMs;
    const minute = this.keys.minuteSlot(slotStart(now, MINUTE_SLOT_MS));
    const short = this.keys.shortSlot(slotStart(now, SHORT_SLOT_MS));
    this.ttls.set(minute, MINUTE_SLOT_TTL_SECONDS);
    this.ttls.set(short, SHORT_SLOT_TTL_SECONDS);
    const outcome = job.outcome === 'failed' ? STATS_FIELD.failed : STATS_FIELD.completed;
    for (const key of [this.keys.totals, minute, short]) this.add(key, outcome, 1);
    this.add(short, SLOT_BATCH_FIELD_PREFIX + job.batchId, 1);
    if (job.reason) this.add(this.keys.totals, FAILURE_FIELD_PREFIX + job.reason, 1);
    if (job.cached) for (const key of [this.keys.totals, minute]) this.add(key, STATS_FIELD.cached, 1);
    const times: Record<Phase, number | undefined> = { wait: job.waitMs, fetch: job.fetchMs, total: job.totalMs };
    for (const phase of PHASES) {
      const ms = times[phase];
      if (ms === undefined) continue;
      const v = Math.max(0, Math.ceil(ms));
      for (const key of [this.keys.totals, minute]) {
        this.add(key, histogramField(phase, bucketUpperBound(v)), 1);
        this.add(key, countField(phase), 1);
        this.add(key, sumField(phase), v);
      }
    }
    const second = Math.floor(Date.now() / 1000);
    this.ownCounts.set(second, (this.ownCounts.get(second) ?? 0) + 1);
  }

  /** Counts a failed attempt that BullMQ will try again. */
  recordRetry(reason: string): void {
    this.add(this.keys.totals, STATS_FIELD.retries, 1);
    this.add(this.keys.totals, RETRY_FIELD_PREFIX + reason, 1);
  }

  /** Jobs this worker finished per second over the last minute (or since `startedAt`, if later). */
  ownJobsPerSecond(startedAt: number, now = Date.now()): number {
    const from = Math.max(startedAt, now - OWN_RATE_WINDOW_MS);
    let n = 0;
    for (const [second, count] of this.ownCounts) {
      if (second * 1000 >= now - OWN_RATE_WINDOW_MS) n += count;
      else this.ownCounts.delete(second);
    }
    return (n / Math.max(1000, now - from)) * 1000;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left, waiting at most `timeoutMs` (Redis may be away). */
  async stop(timeoutMs = 2000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    // A flush may be in flight: then one more writes what came after it.
    await Promise.race([this.flush().then(() => this.flush()), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Writes the counts gathered since the last flush; on failure they are kept for the next one. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const tx = this.redis.multi();
    tx.time();
    for (const [key, fields] of batch) {
      for (const [field, n] of fields) tx.hincrby(key, field, n);
      const ttl = this.ttls.get(key);
      if (ttl !== undefined) tx.expire(key, ttl);
    }
    const sentAt = Date.now();
    try {
      const replies = (await tx.exec()) ?? [];
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
      const [seconds, micros] = replies[0]![1] as [string, string];
      this.offsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Math.round((sentAt + Date.now()) / 2);
      for (const key of batch.keys()) if (!this.pending.has(key)) this.ttls.delete(key);
    } catch (err) {
      // Redis is away: keep the counts (a few hundred fields a minute at most) for the next flush.
      // (Should the connection drop after Redis ran the MULTI but before its reply came back, they
      // are counted twice: statistics, not batch counters, which are exact.)
      for (const [key, fields] of batch) for (const [field, n] of fields) this.add(key, field, n);
      this.log.debug({ err: (err as Error).message }, 'could not write job statistics; keeping them for the next flush');
    }
  }

  private add(key: string, field: string, n: number): void {
    let fields = this.pending.get(key);
    if (!fields) this.pending.set(key, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + n);
  }
}
