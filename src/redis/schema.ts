/**
 * Every Redis key pokequeue owns besides BullMQ's, every field in them and how each value is
 * encoded: the one place writers (TypeScript and the Lua scripts, which get these names
 * substituted in when they are loaded, see scripts.ts) and readers agree on. BullMQ keeps its own
 * keys under `<prefix>:pokemon:*`. With a `{hash-tag}` prefix every key shares one cluster slot,
 * which the scripts and MULTI blocks that touch several at once need.
 *
 * | key                                  | type   | what                                                      | written by            |
 * |--------------------------------------|--------|-----------------------------------------------------------|-----------------------|
 * | `<p>:records`                        | hash   | Pokémon id → record JSON ({@link encodeRecord})             | worker (group commit) |
 * | `<p>:names`                          | hash   | name → id                                                   | worker (group commit) |
 * | `<p>:raw`                            | hash   | id → gzip-compressed payload (STORE_RAW)                    | worker (group commit) |
 * | `<p>:batches`                        | zset   | batch id scored by creation time                            | producer              |
 * | `<p>:batch:<id>`                     | hash   | the batch: {@link BATCH_FIELD} + timing histograms + failures | producer, worker (Lua) |
 * | `<p>:batch:<id>:done`                | bitmap | bit <Pokémon id> set once that id's outcome is counted      | worker (Lua)          |
 * | `<p>:batch:<id>:failed`              | bitmap | bit <Pokémon id> set when that outcome was a failure        | worker (Lua)          |
 * | `<p>:adopters`                       | hash   | Pokémon id → batch ids waiting on another batch's job for it | producer, worker (Lua) |
 * | `<p>:stats:totals`                   | hash   | all-time counters, failures and retries by reason, histograms ({@link STATS_FIELD}) | worker (flush) |
 * | `<p>:stats:m:<minute start ms>`      | hash   | one minute of counters and histograms                      | worker (flush)        |
 * | `<p>:stats:s:<5 s slot start ms>`    | hash   | five seconds of counts, total and per batch                 | worker (flush)        |
 * | `<p>:workers`                        | hash   | worker id → heartbeat JSON                                  | worker                |
 * | `<p>:pokemon:metrics:<completed|failed>` (+ `:data`) | hash, list | BullMQ's job metrics (count per minute), as BullMQ writes them | worker (flush) |
 * | `<p>:batch-finished` (channel)       | pubsub | a batch id, published when its last job is counted          | worker, producer (Lua) |
 * | `<p>:name-catalog`                   | hash   | every name the API's list gives → id, and {@link CATALOG_FIELD} | producer (names, `all`) |
 */
import type { PokemonRecord } from '../types';

/** The BullMQ queue every pokequeue process uses. */
export const QUEUE_NAME = 'pokemon';

/** The stable job id for a Pokémon id; BullMQ rejects all-digit custom ids. */
export const jobIdFor = (id: number): string => `pokemon-${id}`;

export function keysFor(prefix: string) {
  return {
    records: `${prefix}:records`,
    names: `${prefix}:names`,
    raw: `${prefix}:raw`,
    batches: `${prefix}:batches`,
    /** The prefix of every batch's keys; scripts append the batch id (and `:done`, `:failed`). */
    batchPrefix: `${prefix}:batch:`,
    batch: (batchId: string) => `${prefix}:batch:${batchId}`,
    batchDone: (batchId: string) => `${prefix}:batch:${batchId}${BATCH_DONE_SUFFIX}`,
    batchFailed: (batchId: string) => `${prefix}:batch:${batchId}${BATCH_FAILED_SUFFIX}`,
    adopters: `${prefix}:adopters`,
    batchFinishedChannel: `${prefix}:batch-finished`,
    totals: `${prefix}:stats:totals`,
    minuteSlot: (slotStartMs: number) => `${prefix}:stats:m:${slotStartMs}`,
    shortSlot: (slotStartMs: number) => `${prefix}:stats:s:${slotStartMs}`,
    workers: `${prefix}:workers`,
    nameCatalog: `${prefix}:name-catalog`,
    /** BullMQ's key for a job is this plus the job id (`<prefix>:pokemon:pokemon-25`). */
    jobKeyPrefix: `${prefix}:${QUEUE_NAME}:`,
    /** BullMQ's job metrics (bull-board's chart), hash and data list, as Queue#getMetrics reads them. */
    bullmqMetrics: (type: 'completed' | 'failed') => `${prefix}:${QUEUE_NAME}:metrics:${type}`,
    bullmqMetricsData: (type: 'completed' | 'failed') => `${prefix}:${QUEUE_NAME}:metrics:${type}:data`,
  };
}

/** One data point per minute for a week: BullMQ's MetricsTime.ONE_WEEK, bull-board's longest chart. */
export const BULLMQ_METRICS_MAX_POINTS = 7 * 24 * 60;

export type Keys = ReturnType<typeof keysFor>;

export const BATCH_DONE_SUFFIX = ':done';
export const BATCH_FAILED_SUFFIX = ':failed';

/** Batch keys are dropped this long after their last write (creation or a counted job). */
export const BATCH_TTL_SECONDS = 7 * 24 * 3600;

// ---------------------------------------------------------------------------------------------
// The batch hash
// ---------------------------------------------------------------------------------------------

/**
 * The batch hash's scalar fields. Counters are integers; times are ms since the epoch. The same
 * names are substituted into the Lua scripts as `{{batch.<key>}}`.
 */
export const BATCH_FIELD = {
  /** What the user typed. */
  spec: 'spec',
  createdAt: 'createdAt',
  /**
   * Set by the producer once every id is enqueued (a batch is enqueued a chunk at a time); a batch
   * without it is still being enqueued, or its producer stopped halfway. No batch finishes before.
   */
  sealedAt: 'sealedAt',
  /** Set once, by whichever script counts the batch's last job (or seals a batch already done). */
  finishedAt: 'finishedAt',
  requested: 'requested',
  /** Jobs this batch added and owns. */
  added: 'added',
  /** Ids whose job another batch had queued already: this batch waits for them too. */
  queued: 'queued',
  /** Ids skipped because the store had them. */
  stored: 'stored',
  refresh: 'refresh',
  completed: 'completed',
  failed: 'failed',
  /** Adopted ids (another batch's jobs) as they ended. */
  adoptedCompleted: 'adoptedCompleted',
  adoptedFailed: 'adoptedFailed',
  /** Completed from the store, no request made. */
  cached: 'cached',
  /** Jobs that needed more than one attempt. */
  retried: 'retried',
  /** Failed attempts that were tried again (the sum of BullMQ's attemptsMade at each job's end). */
  retries: 'retries',
} as const;

/** Failure counts by reason: `fail:<reason>`. */
export const FAILURE_FIELD_PREFIX = 'fail:';

// ---------------------------------------------------------------------------------------------
// Histograms: batch hash, totals and minute slots share one encoding
// ---------------------------------------------------------------------------------------------

/** The three timed phases and the one-letter code each has in field names. */
export const PHASE_CODE = { wait: 'w', fetch: 'f', total: 't' } as const;
export type Phase = keyof typeof PHASE_CODE;
export const PHASES = Object.keys(PHASE_CODE) as Phase[];

/**
 * Histogram fields: `h:<phase code>:<bucket upper bound ms>` (a count), `n:<code>` (how many
 * values), `sum:<code>` (their sum, ms) and `max:<code>` (the largest, ms; batches only).
 */
export const histogramField = (phase: Phase, upperBoundMs: number) => `h:${PHASE_CODE[phase]}:${upperBoundMs}`;
export const countField = (phase: Phase) => `n:${PHASE_CODE[phase]}`;
export const sumField = (phase: Phase) => `sum:${PHASE_CODE[phase]}`;
export const maxField = (phase: Phase) => `max:${PHASE_CODE[phase]}`;

const PHASE_BY_CODE: Record<string, Phase> = { w: 'wait', f: 'fetch', t: 'total' };

/** One field of a hash read back as histogram data, or null when it is something else. */
export function decodeHistogramField(
  field: string,
): { phase: Phase; kind: 'bucket'; upperBoundMs: number } | { phase: Phase; kind: 'count' | 'sum' | 'max' } | null {
  const bucket = /^h:([wft]):(\d+)$/.exec(field);
  if (bucket) return { phase: PHASE_BY_CODE[bucket[1]!]!, kind: 'bucket', upperBoundMs: Number(bucket[2]) };
  const scalar = /^(n|sum|max):([wft])$/.exec(field);
  if (!scalar) return null;
  return { phase: PHASE_BY_CODE[scalar[2]!]!, kind: scalar[1] === 'n' ? 'count' : (scalar[1] as 'sum' | 'max') };
}

// ---------------------------------------------------------------------------------------------
// Fleet statistics: totals and time slots
// ---------------------------------------------------------------------------------------------

/** Counters in `<p>:stats:totals` and in every slot. Failures by reason use {@link FAILURE_FIELD_PREFIX}. */
export const STATS_FIELD = {
  completed: 'completed',
  failed: 'failed',
  /** Completed from the store, without a request (totals and minute slots). */
  cached: 'cached',
  /** Failed attempts that were tried again, counted as they fail (totals only). */
  retries: 'retries',
} as const;

/** Failed attempts that were tried again, by reason (totals only): `retry:<reason>`. */
export const RETRY_FIELD_PREFIX = 'retry:';

/** Jobs of one batch finished in a short slot: `b:<batch id>`. */
export const SLOT_BATCH_FIELD_PREFIX = 'b:';

/** Minute slots: the per-minute chart and the recent-timing percentiles read these. */
export const MINUTE_SLOT_MS = 60_000;
export const MINUTE_SLOT_TTL_SECONDS = 2 * 3600;
/** Short slots: jobs/s now, the rate chart and each batch's recent rate. */
export const SHORT_SLOT_MS = 5_000;
export const SHORT_SLOT_TTL_SECONDS = 15 * 60;

export const slotStart = (t: number, slotMs: number) => Math.floor(t / slotMs) * slotMs;

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

export const encodeRecord = (record: PokemonRecord): string => JSON.stringify(record);
export const decodeRecord = (json: string): PokemonRecord => JSON.parse(json) as PokemonRecord;

// ---------------------------------------------------------------------------------------------
// The name catalog: the API's list of names, cached
// ---------------------------------------------------------------------------------------------

/**
 * The catalog hash's fields besides the names (name → id as a decimal string). They start with
 * a colon, which no name does (isPokemonName), so they cannot collide with one.
 */
export const CATALOG_FIELD = {
  /** The POKEAPI_URL the list was read from: a catalog of another API is not used. */
  source: ':source',
  /** When the list was read, ms since the epoch. */
  fetchedAt: ':fetchedAt',
} as const;

export const isCatalogMetaField = (field: string): boolean => field.startsWith(':');

// ---------------------------------------------------------------------------------------------
// What the Lua scripts see
// ---------------------------------------------------------------------------------------------

/** Names substituted into the Lua scripts (`{{batch.completed}}`, `{{failurePrefix}}`, ...). */
export const LUA_NAMES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(BATCH_FIELD).map(([k, v]) => [`batch.${k}`, v])),
  failurePrefix: FAILURE_FIELD_PREFIX,
  doneSuffix: BATCH_DONE_SUFFIX,
  failedSuffix: BATCH_FAILED_SUFFIX,
  histogramPrefix: 'h:',
  countPrefix: 'n:',
  sumPrefix: 'sum:',
  maxPrefix: 'max:',
};
