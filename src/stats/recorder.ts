import type { ChainableCommander } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import {
  countField,
  maxField,
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
import { defineScript } from '../redis/scripts';
import type { FinishedJob } from '../types';
import { bucketUpperBound } from './histogram';

/** How often a worker writes what it counted: the most timing data a crash can lose, per worker. */
export const STATS_FLUSH_INTERVAL_MS = 1000;

/** The window of a worker's own rate, as its heartbeat reports it. */
const OWN_RATE_WINDOW_MS = 60_000;

/**
 * The statistics of one worker process: every job it finishes is counted here, in memory, into
 * the all-time totals, the minute slot and the five-second slot it finished in, and its batch's
 * timing histograms; the sums go to Redis in one MULTI of HINCRBYs every
 * {@link STATS_FLUSH_INTERVAL_MS}, when a batch finishes (the worker hears it) and at shutdown.
 * So the dashboard's charts, percentiles, `/metrics` and every batch's timing cost Redis a few
 * hundred field increments per second per worker, whatever the number of jobs, not fields per
 * job; a `kill -9` loses at most the last interval's timing of that one worker. Batch counters
 * are not kept here: they are exact, in record-outcomes.
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
  /** The flush after the one in flight, shared by everyone who asks meanwhile. */
  private queued: Promise<void> | undefined;
  /** This worker's finished jobs per second of the last minute, oldest first (a ring by second). */
  private readonly ownCounts = new Map<number, number>();
  /** Batch hash key → phase field → largest ms, since the last flush. */
  private maxima = new Map<string, Map<string, number>>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly log: Logger,
    private readonly flushMs = STATS_FLUSH_INTERVAL_MS,
  ) {
    this.keys = keysFor(prefix);
    defineScript(redis, 'pokequeueRaiseMax', 'raise-max', 1);
  }

  /**
   * Counts one job (not one that ran twice: its batch said so). `intoBatch`: its batch counted it,
   * so its timing goes into the batch's histograms too (not when the batch has expired).
   */
  record(job: FinishedJob, intoBatch: boolean): void {
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
    const batchKey = this.keys.batch(job.batchId);
    const timed = intoBatch ? [this.keys.totals, minute, batchKey] : [this.keys.totals, minute];
    for (const phase of PHASES) {
      const ms = times[phase];
      if (ms === undefined) continue;
      const v = Math.max(0, Math.ceil(ms));
      for (const key of timed) {
        this.add(key, histogramField(phase, bucketUpperBound(v)), 1);
        this.add(key, countField(phase), 1);
        this.add(key, sumField(phase), v);
      }
      if (intoBatch) {
        let m = this.maxima.get(batchKey);
        if (!m) this.maxima.set(batchKey, (m = new Map()));
        const field = maxField(phase);
        if (v > (m.get(field) ?? -1)) m.set(field, v);
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
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /**
   * Writes the counts gathered so far; on failure they are kept for the next flush. With one in
   * flight, what came after it goes in the next one, so a caller always waits for its own data.
   */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.write().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    this.queued ??= this.flushing.then(() => {
      this.queued = undefined;
      return this.flush();
    });
    return this.queued;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    const maxima = this.maxima;
    this.pending = new Map();
    this.maxima = new Map();
    const tx = this.redis.multi();
    tx.time();
    for (const [key, fields] of batch) {
      for (const [field, n] of fields) tx.hincrby(key, field, n);
      const ttl = this.ttls.get(key);
      if (ttl !== undefined) tx.expire(key, ttl);
    }
    for (const [key, fields] of maxima) {
      (tx as ChainableCommander & { pokequeueRaiseMax(key: string, ...pairs: (string | number)[]): unknown }).pokequeueRaiseMax(key, ...[...fields].flat());
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
      for (const [key, fields] of maxima) {
        const m = this.maxima.get(key) ?? new Map<string, number>();
        for (const [field, v] of fields) if (v > (m.get(field) ?? -1)) m.set(field, v);
        this.maxima.set(key, m);
      }
      this.log.debug({ err: (err as Error).message }, 'could not write job statistics; keeping them for the next flush');
    }
  }

  private add(key: string, field: string, n: number): void {
    let fields = this.pending.get(key);
    if (!fields) this.pending.set(key, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + n);
  }
}
