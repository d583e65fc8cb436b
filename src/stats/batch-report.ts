import type { RedisClient } from '../redis/connection';
import { keysFor } from '../redis/keys';
import { percentiles, type Percentiles } from './percentiles';

/** A batch as its counters stand now. */
export interface BatchSnapshot {
  batchId: string;
  spec: string;
  createdAt: number;
  finishedAt: number | null;
  requested: number;
  /** Jobs this batch added (its own). */
  added: number;
  /** Ids another batch was already fetching. */
  queued: number;
  /** Ids skipped because the store had them. */
  stored: number;
  completed: number;
  failed: number;
  /** Jobs that needed more than one attempt. */
  retried: number;
  /** Failed attempts that were tried again. */
  retries: number;
  /** Jobs answered from the store without a request. */
  cached: number;
}

export interface BatchSummary extends BatchSnapshot {
  wallMs: number;
  jobsPerSecond: number;
  timing: { wait: Percentiles; fetch: Percentiles; total: Percentiles };
  failures: Record<string, number>;
}

export async function readBatch(redis: RedisClient, prefix: string, batchId: string): Promise<BatchSnapshot | null> {
  const h = await redis.hgetall(keysFor(prefix).batch(batchId));
  if (!h.createdAt) return null;
  const n = (k: string) => Number(h[k] ?? 0);
  return {
    batchId,
    spec: h.spec ?? '',
    createdAt: n('createdAt'),
    finishedAt: h.finishedAt ? Number(h.finishedAt) : null,
    requested: n('requested'),
    added: n('added'),
    queued: n('queued'),
    stored: n('stored'),
    completed: n('completed'),
    failed: n('failed'),
    retried: n('retried'),
    retries: n('retries'),
    cached: n('cached'),
  };
}

/** Counters plus timing percentiles and failures by reason, for the end-of-batch summary and `/stats`. */
export async function summarizeBatch(redis: RedisClient, prefix: string, batchId: string, now = Date.now()): Promise<BatchSummary | null> {
  const keys = keysFor(prefix);
  const snap = await readBatch(redis, prefix, batchId);
  if (!snap) return null;
  const [timings, failures] = await Promise.all([
    redis.lrange(keys.batchTimings(batchId), 0, -1),
    redis.hgetall(keys.batchFailures(batchId)),
  ]);
  const wait: number[] = [];
  const fetch: number[] = [];
  const total: number[] = [];
  for (const line of timings) {
    const [w, f, t] = line.split(' ').map(Number) as [number, number, number];
    wait.push(w);
    if (f >= 0) fetch.push(f);
    total.push(t);
  }
  const end = snap.finishedAt ?? now;
  const wallMs = Math.max(1, end - snap.createdAt);
  const finished = snap.completed + snap.failed;
  return {
    ...snap,
    wallMs,
    jobsPerSecond: (finished / wallMs) * 1000,
    timing: { wait: percentiles(wait), fetch: percentiles(fetch), total: percentiles(total) },
    failures: Object.fromEntries(Object.entries(failures).map(([k, v]) => [k, Number(v)])),
  };
}

/** Most recent batches first. */
export async function recentBatchIds(redis: RedisClient, prefix: string, limit = 20): Promise<string[]> {
  return redis.zrevrange(keysFor(prefix).batches, 0, limit - 1);
}
