/**
 * Every Redis key pokequeue owns besides BullMQ's, derived from QUEUE_PREFIX. BullMQ keeps its
 * own under `<prefix>:pokemon:*`. With a `{hash-tag}` prefix all of them share one cluster slot,
 * which the Lua scripts and MULTI blocks that touch several at once need.
 */
export const QUEUE_NAME = 'pokemon';

/** The stable job id for a Pokémon id; BullMQ rejects all-digit custom ids. */
export const jobIdFor = (id: number): string => `pokemon-${id}`;

export function keysFor(prefix: string) {
  return {
    /** hash: id → record JSON */
    records: `${prefix}:records`,
    /** hash: name → id */
    names: `${prefix}:names`,
    /** hash: id → gzip-compressed raw payload (STORE_RAW only) */
    raw: `${prefix}:raw`,
    /** sorted set: batch id scored by creation time */
    batches: `${prefix}:batches`,
    /** hash: a batch's description and counters */
    batch: (batchId: string) => `${prefix}:batch:${batchId}`,
    /** set: ids of the batch already counted, so a job that runs twice is counted once */
    batchDone: (batchId: string) => `${prefix}:batch:${batchId}:done`,
    /** list: "wait fetch total" ms of each finished job of the batch */
    batchTimings: (batchId: string) => `${prefix}:batch:${batchId}:timings`,
    /** hash: failure reason → count */
    batchFailures: (batchId: string) => `${prefix}:batch:${batchId}:failures`,
    /** set: ids the batch asked for that another batch had already queued */
    batchAdopted: (batchId: string) => `${prefix}:batch:${batchId}:adopted`,
    /** stream: one entry per finished job, across all workers (capped), for windows and rates */
    timings: `${prefix}:timings`,
    /** hash: counters since the store began: completed, failed, failed:<reason>, retries, histograms */
    totals: `${prefix}:totals`,
    /** pub/sub channel (not a key): a batch's id, published when its last job finishes */
    batchFinishedChannel: `${prefix}:batch-finished`,
    /** hash: worker id → heartbeat JSON */
    workers: `${prefix}:workers`,
  };
}

export type Keys = ReturnType<typeof keysFor>;
