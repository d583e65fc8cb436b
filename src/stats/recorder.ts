import type { ChainableCommander } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import {
  BULLMQ_METRICS_MAX_POINTS,
  countField,
  FAILURE_FIELD_PREFIX,
  histogramField,
  keysFor,
  maxField,
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
} from '../redis/schema';
import { defineScript } from '../redis/scripts';
import type { FinishedJob } from '../types';
import { bucketUpperBound } from './histogram';

/** How often a worker writes what it counted: the most timing data a crash can lose, per worker. */
export const STATS_FLUSH_INTERVAL_MS = 1000;

/** The window of a worker's own rate, as its heartbeat reports it. */
const OWN_RATE_WINDOW_MS = 60_000;

/**
 * What one hash gets at the next flush, kept as numbers: field names are built only when it is
 * written (building them per job was a tenth of a worker's CPU per job on small payloads).
 */
class Tally {
  completed = 0;
  failed = 0;
  cached = 0;
  retries = 0;
  readonly failures = new Map<string, number>();
  readonly retryReasons = new Map<string, number>();
  /** Per phase (wait, fetch, total): bucket upper bound → count, count, sum, max (-1: none). */
  readonly buckets = PHASES.map(() => new Map<number, number>());
  readonly counts = [0, 0, 0];
  readonly sums = [0, 0, 0];
  readonly maxima = [-1, -1, -1];
  /** Short slots: jobs per batch. */
  readonly batches = new Map<string, number>();

  addTimes(times: JobTimes, trackMax: boolean): void {
    for (let p = 0; p < 3; p++) {
      const v = times.ms[p]!;
      if (v < 0) continue;
      const ub = times.bucket[p]!;
      const b = this.buckets[p]!;
      b.set(ub, (b.get(ub) ?? 0) + 1);
      this.counts[p]!++;
      this.sums[p]! += v;
      if (trackMax && v > this.maxima[p]!) this.maxima[p] = v;
    }
  }

  merge(o: Tally): void {
    this.completed += o.completed;
    this.failed += o.failed;
    this.cached += o.cached;
    this.retries += o.retries;
    for (const [k, n] of o.failures) this.failures.set(k, (this.failures.get(k) ?? 0) + n);
    for (const [k, n] of o.retryReasons) this.retryReasons.set(k, (this.retryReasons.get(k) ?? 0) + n);
    for (let p = 0; p < 3; p++) {
      for (const [ub, n] of o.buckets[p]!) this.buckets[p]!.set(ub, (this.buckets[p]!.get(ub) ?? 0) + n);
      this.counts[p]! += o.counts[p]!;
      this.sums[p]! += o.sums[p]!;
      this.maxima[p] = Math.max(this.maxima[p]!, o.maxima[p]!);
    }
    for (const [k, n] of o.batches) this.batches.set(k, (this.batches.get(k) ?? 0) + n);
  }

  /** The HINCRBY field/increment pairs this tally adds up to (schema.ts names them). */
  fields(): [string, number][] {
    const out: [string, number][] = [];
    const push = (field: string, n: number) => n !== 0 && out.push([field, n]);
    push(STATS_FIELD.completed, this.completed);
    push(STATS_FIELD.failed, this.failed);
    push(STATS_FIELD.cached, this.cached);
    push(STATS_FIELD.retries, this.retries);
    for (const [reason, n] of this.failures) push(FAILURE_FIELD_PREFIX + reason, n);
    for (const [reason, n] of this.retryReasons) push(RETRY_FIELD_PREFIX + reason, n);
    PHASES.forEach((phase, p) => {
      for (const [ub, n] of this.buckets[p]!) push(histogramField(phase, ub), n);
      push(countField(phase), this.counts[p]!);
      push(sumField(phase), this.sums[p]!);
    });
    for (const [batchId, n] of this.batches) push(SLOT_BATCH_FIELD_PREFIX + batchId, n);
    return out;
  }

  /** `max:<phase>` field/value pairs, for raise-max. */
  maxFields(): (string | number)[] {
    const out: (string | number)[] = [];
    PHASES.forEach((phase, p) => this.maxima[p]! >= 0 && out.push(maxField(phase), this.maxima[p]!));
    return out;
  }
}

/**
 * One job's wait, fetch and total times, whole ms rounded up (-1: not measured), and the bucket
 * each falls in: worked out once per job, then added to every tally the job goes into.
 */
class JobTimes {
  readonly ms = [-1, -1, -1];
  readonly bucket = [0, 0, 0];

  set(job: FinishedJob): this {
    this.put(0, job.waitMs);
    this.put(1, job.fetchMs);
    this.put(2, job.totalMs);
    return this;
  }

  private put(p: number, ms: number | undefined): void {
    if (ms === undefined) {
      this.ms[p] = -1;
      return;
    }
    const v = Math.max(0, Math.ceil(ms));
    this.ms[p] = v;
    this.bucket[p] = bucketUpperBound(v);
  }
}

/** A slot's hash key, built again only when the slot changes (not per job). */
class SlotKey {
  private start = NaN;
  private key = '';

  constructor(
    private readonly slotMs: number,
    private readonly build: (slotStartMs: number) => string,
  ) {}

  at(t: number): string {
    const start = slotStart(t, this.slotMs);
    if (start !== this.start) {
      this.start = start;
      this.key = this.build(start);
    }
    return this.key;
  }
}

type MetricsCommander = ChainableCommander & { pokequeueCollectMetrics(hash: string, data: string, n: number, now: number, maxPoints: number): unknown };

/** A hash to write at the next flush: its tally, its TTL (none for totals and batches), and whether its maxima are kept. */
interface Pending {
  tally: Tally;
  ttl?: number;
  maxima: boolean;
}

/**
 * The statistics of one worker process: every job it finishes is counted here, in memory, into
 * the all-time totals, the minute slot and the five-second slot it finished in, and its batch's
 * timing histograms; the sums go to Redis in one MULTI of HINCRBYs every
 * {@link STATS_FLUSH_INTERVAL_MS}, when a batch finishes (the worker hears it) and at shutdown.
 * So the dashboard's charts, percentiles, `/metrics`, every batch's timing and BullMQ's own job
 * metrics (bull-board's chart, collect-metrics.lua) cost Redis a few hundred field increments
 * per second per worker, whatever the number of jobs, not fields per job; a `kill -9` loses at
 * most the last interval's counts of that one worker. Batch counters are not kept here: they
 * are exact, in commit-group.lua.
 *
 * Slots are placed by Redis's clock (the worker's, corrected by the offset each flush measures),
 * so workers on machines with drifting clocks fill the same minute.
 */
export class FleetStatsRecorder {
  private readonly keys: Keys;
  /** Hash key → what it gets at the next flush. */
  private pending = new Map<string, Pending>();
  /** Redis's clock minus ours, ms. */
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** The flush after the one in flight, shared by everyone who asks meanwhile. */
  private queued: Promise<void> | undefined;
  /** This worker's finished jobs per second of the last minute (by second). */
  private readonly ownCounts = new Map<number, number>();
  // Per-job scratch and caches: record() runs for every job, so it builds no key and no array.
  private readonly times = new JobTimes();
  private readonly minuteKey: SlotKey;
  private readonly shortKey: SlotKey;
  private lastBatch = { id: '', key: '' };

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly log: Logger,
    private readonly flushMs = STATS_FLUSH_INTERVAL_MS,
  ) {
    this.keys = keysFor(prefix);
    this.minuteKey = new SlotKey(MINUTE_SLOT_MS, this.keys.minuteSlot);
    this.shortKey = new SlotKey(SHORT_SLOT_MS, this.keys.shortSlot);
    defineScript(redis, 'pokequeueRaiseMax', 'raise-max', 1);
    defineScript(redis, 'pokequeueCollectMetrics', 'collect-metrics', 2);
  }

  /**
   * Counts one job (not one that ran twice: its batch said so). `intoBatch`: its batch counted it,
   * so its timing goes into the batch's histograms too (not when the batch has expired).
   */
  record(job: FinishedJob, intoBatch: boolean): void {
    const clock = Date.now();
    const now = clock + this.offsetMs;
    const totals = this.tally(this.keys.totals);
    const minute = this.tally(this.minuteKey.at(now), MINUTE_SLOT_TTL_SECONDS);
    const short = this.tally(this.shortKey.at(now), SHORT_SLOT_TTL_SECONDS);
    if (job.outcome === 'failed') {
      totals.failed++;
      minute.failed++;
      short.failed++;
    } else {
      totals.completed++;
      minute.completed++;
      short.completed++;
    }
    short.batches.set(job.batchId, (short.batches.get(job.batchId) ?? 0) + 1);
    if (job.reason) totals.failures.set(job.reason, (totals.failures.get(job.reason) ?? 0) + 1);
    if (job.cached) {
      totals.cached++;
      minute.cached++;
    }
    const times = this.times.set(job);
    totals.addTimes(times, false);
    minute.addTimes(times, false);
    if (intoBatch) this.tally(this.batchKey(job.batchId), undefined, true).addTimes(times, true);
    const second = Math.floor(clock / 1000);
    this.ownCounts.set(second, (this.ownCounts.get(second) ?? 0) + 1);
  }

  /** The batch's hash key; jobs come in runs of one batch, so the last one is kept. */
  private batchKey(batchId: string): string {
    if (batchId !== this.lastBatch.id) this.lastBatch = { id: batchId, key: this.keys.batch(batchId) };
    return this.lastBatch.key;
  }

  /** Counts a failed attempt that BullMQ will try again. */
  recordRetry(reason: string): void {
    const totals = this.tally(this.keys.totals);
    totals.retries++;
    totals.retryReasons.set(reason, (totals.retryReasons.get(reason) ?? 0) + 1);
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
    this.pending = new Map();
    const tx = this.redis.multi();
    tx.time();
    for (const [key, p] of batch) {
      for (const [field, n] of p.tally.fields()) tx.hincrby(key, field, n);
      if (p.ttl !== undefined) tx.expire(key, p.ttl);
      const maxima = p.maxima ? p.tally.maxFields() : [];
      if (maxima.length) (tx as ChainableCommander & { pokequeueRaiseMax(key: string, ...pairs: (string | number)[]): unknown }).pokequeueRaiseMax(key, ...maxima);
    }
    // BullMQ's own job metrics (bull-board's chart) from the same counts: the worker runs BullMQ
    // without its `metrics` option, which wrote them with two commands per job.
    const totals = batch.get(this.keys.totals)?.tally;
    for (const type of ['completed', 'failed'] as const) {
      const n = totals?.[type] ?? 0;
      if (n > 0) (tx as MetricsCommander).pokequeueCollectMetrics(this.keys.bullmqMetrics(type), this.keys.bullmqMetricsData(type), n, Date.now() + this.offsetMs, BULLMQ_METRICS_MAX_POINTS);
    }
    const sentAt = Date.now();
    try {
      const replies = (await tx.exec()) ?? [];
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
      const [seconds, micros] = replies[0]![1] as [string, string];
      this.offsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Math.round((sentAt + Date.now()) / 2);
    } catch (err) {
      // Redis is away: keep the counts (a few hundred fields a minute at most) for the next flush.
      // (Should the connection drop after Redis ran the MULTI but before its reply came back, they
      // are counted twice: statistics, not batch counters, which are exact.)
      for (const [key, p] of batch) this.tally(key, p.ttl, p.maxima).merge(p.tally);
      this.log.debug({ err: (err as Error).message }, 'could not write job statistics; keeping them for the next flush');
    }
  }

  private tally(key: string, ttl?: number, maxima = false): Tally {
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { tally: new Tally(), ttl, maxima }));
    return p.tally;
  }
}
