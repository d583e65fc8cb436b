import type { RedisClient } from '../redis/connection';
import {
  BATCH_FIELD,
  BATCH_TTL_SECONDS,
  decodeHistogramField,
  FAILURE_FIELD_PREFIX,
  jobIdFor,
  keysFor,
  PHASES,
  type Keys,
  type Phase,
} from '../redis/schema';
import { AdoptMode, defineScript, encodeOutcome, IdState, OutcomeCount } from '../redis/scripts';
import { Histogram } from '../stats/histogram';
import type { FinishedJob } from '../types';
import type { BatchSnapshot, BatchSummary } from './batch';

/** A new batch, before any of its ids is enqueued. */
export interface NewBatch {
  batchId: string;
  spec: string;
  requested: number;
  refresh: boolean;
}

/** Ids per script call: long enough to amortize a round trip, short enough not to block Redis. */
const SCRIPT_CHUNK = 5000;

type Scripts = {
  pokequeueClassifyIds(recordsKey: string, jobKeyPrefix: string, refresh: string, ...ids: string[]): Promise<number[]>;
  pokequeueCreateBatch(batchKey: string, batchesKey: string, ...args: (string | number)[]): Promise<number>;
  pokequeueSealBatch(batchKey: string, batchId: string, now: number, channel: string): Promise<number>;
  pokequeueAdoptIds(adoptersKey: string, recordsKey: string, batchKey: string, ...args: (string | number)[]): Promise<[number, number]>;
};

/** The scalar fields a snapshot reads, in HMGET order. */
const SNAPSHOT_FIELDS = [
  BATCH_FIELD.spec, BATCH_FIELD.createdAt, BATCH_FIELD.finishedAt, BATCH_FIELD.requested, BATCH_FIELD.added,
  BATCH_FIELD.queued, BATCH_FIELD.stored, BATCH_FIELD.completed, BATCH_FIELD.failed, BATCH_FIELD.retried,
  BATCH_FIELD.retries, BATCH_FIELD.cached, BATCH_FIELD.adoptedCompleted, BATCH_FIELD.adoptedFailed, BATCH_FIELD.sealedAt,
] as const;

/**
 * The owner of every batch's state in Redis: creating and adopting (the producer), counting each
 * job's outcome (the worker's group commit, through commit-group.lua), and reading snapshots and
 * summaries (everyone else). Per job, counting costs O(1) Redis work: one bit in the batch's
 * `done` bitmap (which also keeps a job that runs twice from counting twice), and a look in the
 * adopters hash only while an adoption is pending; counters and histograms are added up per call.
 */
export class BatchStore {
  readonly keys: Keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = keysFor(prefix);
    defineScript(redis, 'pokequeueClassifyIds', 'classify-ids', 1);
    defineScript(redis, 'pokequeueCreateBatch', 'create-batch', 2);
    defineScript(redis, 'pokequeueSealBatch', 'seal-batch', 1);
    defineScript(redis, 'pokequeueAdoptIds', 'adopt-ids', 3);
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  /** Sorts ids by what the producer must do with each (see classify-ids.lua). */
  async classify(ids: readonly number[], refresh: boolean): Promise<{ fresh: number[]; stored: number[]; live: number[]; finished: number[] }> {
    const out = { fresh: [] as number[], stored: [] as number[], live: [] as number[], finished: [] as number[] };
    const jobKeyPrefix = this.jobKeyPrefix();
    for (let i = 0; i < ids.length; i += SCRIPT_CHUNK) {
      const chunk = ids.slice(i, i + SCRIPT_CHUNK);
      const codes = await this.scripts.pokequeueClassifyIds(this.keys.records, jobKeyPrefix, refresh ? '1' : '0', ...chunk.map(String));
      codes.forEach((code, j) => {
        const list = code === IdState.stored ? out.stored : code === IdState.live ? out.live : code === IdState.finished ? out.finished : out.fresh;
        list.push(chunk[j]!);
      });
    }
    return out;
  }

  /** Writes a new batch, open: its ids are counted in as they are enqueued, then it is sealed. */
  async create(b: NewBatch, now = Date.now()): Promise<void> {
    await this.scripts.pokequeueCreateBatch(
      this.keys.batch(b.batchId), this.keys.batches, b.batchId, now, BATCH_TTL_SECONDS,
      BATCH_FIELD.spec, b.spec, BATCH_FIELD.requested, b.requested, BATCH_FIELD.refresh, b.refresh ? 1 : 0,
    );
  }

  /** Counts a chunk's ids into the batch before its jobs are added: its own jobs and the ids already stored. */
  async countIn(batchId: string, added: number, stored: number): Promise<void> {
    if (added === 0 && stored === 0) return;
    const key = this.keys.batch(batchId);
    const replies = (await this.redis.multi().hincrby(key, BATCH_FIELD.added, added).hincrby(key, BATCH_FIELD.stored, stored).exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
  }

  /** Every id is enqueued: from now on the batch finishes with its last job (at once, if that is done). */
  async seal(batchId: string, now = Date.now()): Promise<boolean> {
    return (await this.scripts.pokequeueSealBatch(this.keys.batch(batchId), batchId, now, this.keys.batchFinishedChannel)) === 1;
  }

  /**
   * Makes the batch wait for `ids` whose jobs belong to other batches (adopt mode), or, after its
   * own jobs were added (check mode), finds those of `ids` a racing producer had queued first and
   * adopts them instead. Returns how many were adopted.
   */
  async adopt(batchId: string, ids: readonly number[], mode: keyof typeof AdoptMode): Promise<number> {
    let adopted = 0;
    for (let i = 0; i < ids.length; i += SCRIPT_CHUNK) {
      const chunk = ids.slice(i, i + SCRIPT_CHUNK).map(String);
      const [n] = await this.scripts.pokequeueAdoptIds(
        this.keys.adopters, this.keys.records, this.keys.batch(batchId),
        this.keys.batchPrefix, this.jobKeyPrefix(), batchId, Date.now(), this.keys.batchFinishedChannel, BATCH_TTL_SECONDS, AdoptMode[mode],
        ...chunk,
      );
      adopted += n;
    }
    return adopted;
  }

  /**
   * The batch side of one group commit (commit-group.lua, which the group commit calls): the
   * adopters key, the script's first four arguments, and the jobs grouped by batch, one value per
   * job (see the script's header). Its reply holds one {@link OutcomeCount} per job in the order
   * of the arguments: `order[k]` is the index in `jobs` of the job whose code is `reply[k]`.
   */
  outcomesFor(jobs: readonly FinishedJob[]): { adoptersKey: string; head: (string | number)[]; args: (string | number)[]; order: number[] } {
    const byBatch = new Map<string, number[]>();
    jobs.forEach((j, i) => {
      const list = byBatch.get(j.batchId);
      if (list) list.push(i);
      else byBatch.set(j.batchId, [i]);
    });
    const args: (string | number)[] = [];
    const order: number[] = [];
    for (const [batchId, indexes] of byBatch) {
      args.push(batchId, indexes.length);
      for (const i of indexes) {
        args.push(encodeOutcome(jobs[i]!));
        order.push(i);
      }
    }
    return { adoptersKey: this.keys.adopters, head: [this.keys.batchPrefix, Date.now(), BATCH_TTL_SECONDS, this.keys.batchFinishedChannel], args, order };
  }

  async read(batchId: string): Promise<BatchSnapshot | null> {
    return decodeSnapshot(batchId, await this.redis.hmget(this.keys.batch(batchId), ...SNAPSHOT_FIELDS));
  }

  /** Several snapshots in one round trip, in order; missing batches left out. */
  async readMany(batchIds: readonly string[]): Promise<BatchSnapshot[]> {
    if (batchIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of batchIds) pipe.hmget(this.keys.batch(id), ...SNAPSHOT_FIELDS);
    const replies = (await pipe.exec()) ?? [];
    const out: BatchSnapshot[] = [];
    replies.forEach(([err, values], i) => {
      if (err) throw err;
      const snap = decodeSnapshot(batchIds[i]!, values as (string | null)[]);
      if (snap) out.push(snap);
    });
    return out;
  }

  /** The most recent batch ids, newest first. */
  async recentIds(limit = 20): Promise<string[]> {
    return this.redis.zrevrange(this.keys.batches, 0, limit - 1);
  }

  /** The whole summary: one HGETALL, O(histogram buckets), whatever the batch's size. */
  async summary(batchId: string, now = Date.now()): Promise<BatchSummary | null> {
    const hash = await this.redis.hgetall(this.keys.batch(batchId));
    return summaryFromHash(batchId, hash, now);
  }

  /** BullMQ's key of the job for id N is this plus N (`<p>:pokemon:pokemon-25`). */
  private jobKeyPrefix(): string {
    return this.keys.jobKeyPrefix + jobIdFor(0).slice(0, -1);
  }
}

function decodeSnapshot(batchId: string, v: readonly (string | null)[]): BatchSnapshot | null {
  const n = (i: number) => Number(v[i] ?? 0);
  if (!v[1]) return null; // no createdAt: no such batch (or it expired)
  return {
    batchId,
    spec: v[0] ?? '',
    createdAt: n(1),
    finishedAt: v[2] ? Number(v[2]) : null,
    requested: n(3),
    added: n(4),
    queued: n(5),
    stored: n(6),
    completed: n(7),
    failed: n(8),
    retried: n(9),
    retries: n(10),
    cached: n(11),
    adopted: { completed: n(12), failed: n(13) },
    sealedAt: v[14] ? Number(v[14]) : null,
  };
}

export function summaryFromHash(batchId: string, hash: Record<string, string>, now = Date.now()): BatchSummary | null {
  const snap = decodeSnapshot(batchId, SNAPSHOT_FIELDS.map((f) => hash[f] ?? null));
  if (!snap) return null;
  const histograms = Object.fromEntries(PHASES.map((p) => [p, new Histogram()])) as Record<Phase, Histogram>;
  const failures: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith(FAILURE_FIELD_PREFIX)) {
      failures[field.slice(FAILURE_FIELD_PREFIX.length) || 'unknown'] = Number(value);
      continue;
    }
    const h = decodeHistogramField(field);
    if (!h) continue;
    const hist = histograms[h.phase];
    if (h.kind === 'bucket') hist.addBucket(h.upperBoundMs, Number(value));
    else if (h.kind === 'sum') hist.sumMs = Number(value);
    else if (h.kind === 'max') hist.maxMs = Number(value);
  }
  const wallMs = Math.max(1, (snap.finishedAt ?? now) - snap.createdAt);
  return {
    ...snap,
    wallMs,
    jobsPerSecond: ((snap.completed + snap.failed) / wallMs) * 1000,
    timing: { wait: histograms.wait.percentiles(), fetch: histograms.fetch.percentiles(), total: histograms.total.percentiles() },
    failures,
  };
}

export { OutcomeCount };

