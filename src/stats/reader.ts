import type { RedisClient } from '../redis/connection';
import {
  decodeHistogramField,
  FAILURE_FIELD_PREFIX,
  keysFor,
  MINUTE_SLOT_MS,
  PHASES,
  SHORT_SLOT_MS,
  SLOT_BATCH_FIELD_PREFIX,
  slotStart,
  STATS_FIELD,
  type Phase,
} from '../redis/schema';
import { Histogram } from './histogram';

/** How far back the per-minute chart reaches. */
export const THROUGHPUT_HISTORY_MS = 60 * 60_000;
/** Timing percentiles cover the jobs finished in the last minutes... */
export const TIMING_WINDOW_MS = 5 * 60_000;
/** ...going back further, a minute at a time up to the hour, until they hold this many jobs. */
export const TIMING_WINDOW_MIN_JOBS = 1000;
/** "Jobs/s now": the rate over this many last milliseconds. */
export const NOW_WINDOW_MS = 10_000;
/** The jobs/s chart: one point per short slot over the last few minutes. */
export const RATE_SERIES_SPAN_MS = 5 * 60_000;
/** A batch's recent rate is taken over this window. */
export const RECENT_WINDOW_MS = 60_000;

export type PhaseHistograms = Record<Phase, Histogram>;

/** All-time counters of the fleet, for `/metrics` and `/api/stats`. */
export interface FleetTotals {
  completed: number;
  failed: number;
  retries: number;
  failedByReason: Record<string, number>;
  histograms: PhaseHistograms;
}

/** What every worker of the fleet flushed, read back: the dashboard's charts and percentiles. */
export interface FleetStats {
  now: number;
  totals: FleetTotals;
  /** The last hour, oldest first, ending with the current (partial) minute. */
  perMinute: { t: number; completed: number; failed: number }[];
  /** Jobs/s in five-second slots over the last few minutes, oldest first; the partial slot left out. */
  perSecond: { t: number; jobsPerSecond: number }[];
  jobsPerSecondNow: number;
  /** The span `jobsPerSecondNow` covers: {@link NOW_WINDOW_MS} plus the current slot so far. */
  nowWindowMs: number;
  timingWindow: { from: number | null; to: number | null; jobs: number; cached: number; histograms: PhaseHistograms };
  /** Jobs each batch finished over the last {@link RECENT_WINDOW_MS}, by batch id. */
  recentByBatch: Map<string, number>;
}

/** Redis's clock, which every worker's slots follow: one time base for every machine. */
export async function redisNow(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

export async function readTotals(redis: RedisClient, prefix: string): Promise<FleetTotals> {
  return totalsFrom(await redis.hgetall(keysFor(prefix).totals));
}

/**
 * Reads the fleet statistics in two pipelined round trips: the totals, the hour's minute counts and
 * the short slots, then the histograms of the minutes the timing window needs. The cost depends on
 * the number of slots and buckets, never on the number of jobs.
 */
export async function readFleetStats(redis: RedisClient, prefix: string, now: number): Promise<FleetStats> {
  const keys = keysFor(prefix);
  const minuteNow = slotStart(now, MINUTE_SLOT_MS);
  const minutes = Array.from({ length: THROUGHPUT_HISTORY_MS / MINUTE_SLOT_MS }, (_, i) => minuteNow - (THROUGHPUT_HISTORY_MS / MINUTE_SLOT_MS - 1 - i) * MINUTE_SLOT_MS);
  const shortNow = slotStart(now, SHORT_SLOT_MS);
  const shorts = Array.from({ length: RATE_SERIES_SPAN_MS / SHORT_SLOT_MS + 1 }, (_, i) => shortNow - (RATE_SERIES_SPAN_MS / SHORT_SLOT_MS - i) * SHORT_SLOT_MS);

  const pipe = redis.pipeline();
  pipe.hgetall(keys.totals);
  for (const t of minutes) pipe.hmget(keys.minuteSlot(t), STATS_FIELD.completed, STATS_FIELD.failed);
  for (const t of shorts) pipe.hgetall(keys.shortSlot(t));
  const replies = unwrap(await pipe.exec());
  const totals = totalsFrom(replies[0] as Record<string, string>);
  const perMinute = minutes.map((t, i) => {
    const [c, f] = replies[1 + i] as (string | null)[];
    return { t, completed: Number(c ?? 0), failed: Number(f ?? 0) };
  });
  const shortHashes = shorts.map((_, i) => replies[1 + minutes.length + i] as Record<string, string>);

  // Newest minutes first until the window spans TIMING_WINDOW_MS and holds enough jobs.
  const windowMinutes: number[] = [];
  let jobs = 0;
  for (let i = perMinute.length - 1; i >= 0; i--) {
    const m = perMinute[i]!;
    const inWindow = now - m.t < TIMING_WINDOW_MS;
    if (!inWindow && jobs >= TIMING_WINDOW_MIN_JOBS) break;
    if (m.completed + m.failed > 0) windowMinutes.push(m.t);
    jobs += m.completed + m.failed;
  }
  const histograms = emptyHistograms();
  let cached = 0;
  if (windowMinutes.length) {
    const p2 = redis.pipeline();
    for (const t of windowMinutes) p2.hgetall(keys.minuteSlot(t));
    for (const h of unwrap(await p2.exec()) as Record<string, string>[]) {
      addHistogramFields(histograms, h);
      cached += Number(h[STATS_FIELD.cached] ?? 0);
    }
  }

  const shortCount = (h: Record<string, string>) => Number(h[STATS_FIELD.completed] ?? 0) + Number(h[STATS_FIELD.failed] ?? 0);
  const perSecond = shorts.slice(0, -1).map((t, i) => ({ t, jobsPerSecond: (shortCount(shortHashes[i]!) / SHORT_SLOT_MS) * 1000 }));
  // The current slot is partial: count it for the time it has run.
  const elapsedInSlot = Math.max(1, now - shortNow);
  const slotsBack = NOW_WINDOW_MS / SHORT_SLOT_MS;
  let nowJobs = shortCount(shortHashes.at(-1)!);
  for (let i = 2; i <= slotsBack + 1; i++) nowJobs += shortCount(shortHashes.at(-i) ?? {});
  const jobsPerSecondNow = (nowJobs / (NOW_WINDOW_MS + elapsedInSlot)) * 1000;

  const recentByBatch = new Map<string, number>();
  const recentSlots = RECENT_WINDOW_MS / SHORT_SLOT_MS + 1;
  for (const h of shortHashes.slice(-recentSlots)) {
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith(SLOT_BATCH_FIELD_PREFIX)) {
        const id = field.slice(SLOT_BATCH_FIELD_PREFIX.length);
        recentByBatch.set(id, (recentByBatch.get(id) ?? 0) + Number(value));
      }
    }
  }
  return {
    now,
    totals,
    perMinute,
    perSecond,
    jobsPerSecondNow,
    nowWindowMs: NOW_WINDOW_MS + elapsedInSlot,
    timingWindow: {
      from: windowMinutes.length ? Math.min(...windowMinutes) : null,
      to: windowMinutes.length ? now : null,
      jobs: histograms.total.count,
      cached,
      histograms,
    },
    recentByBatch,
  };
}

/** How long the recent counts of {@link FleetStats.recentByBatch} cover, given `now`. */
export function recentWindowMs(now: number): number {
  return RECENT_WINDOW_MS + Math.max(1, now - slotStart(now, SHORT_SLOT_MS));
}

function totalsFrom(h: Record<string, string>): FleetTotals {
  const failedByReason: Record<string, number> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith(FAILURE_FIELD_PREFIX)) failedByReason[field.slice(FAILURE_FIELD_PREFIX.length) || 'unknown'] = Number(value);
  }
  const histograms = emptyHistograms();
  addHistogramFields(histograms, h);
  return {
    completed: Number(h[STATS_FIELD.completed] ?? 0),
    failed: Number(h[STATS_FIELD.failed] ?? 0),
    retries: Number(h[STATS_FIELD.retries] ?? 0),
    failedByReason,
    histograms,
  };
}

function emptyHistograms(): PhaseHistograms {
  return Object.fromEntries(PHASES.map((p) => [p, new Histogram()])) as PhaseHistograms;
}

function addHistogramFields(into: PhaseHistograms, h: Record<string, string>): void {
  for (const [field, value] of Object.entries(h)) {
    const f = decodeHistogramField(field);
    if (!f) continue;
    if (f.kind === 'bucket') into[f.phase].addBucket(f.upperBoundMs, Number(value));
    else if (f.kind === 'sum') into[f.phase].sumMs += Number(value);
  }
}

function unwrap(replies: [Error | null, unknown][] | null): unknown[] {
  return (replies ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
