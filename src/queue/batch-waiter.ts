import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import { jobIdFor, keysFor } from '../redis/keys';
import { readBatch, summarizeBatch, type BatchSummary } from '../stats/batch-report';
import type { PokemonQueue } from './pokemon-queue';

export interface BatchProgress {
  batchId: string;
  /** Jobs the batch waits for: its own plus those another batch was already fetching. */
  total: number;
  done: number;
  completed: number;
  failed: number;
  /** Finished jobs per second since the batch was created. */
  rate: number;
  /** Milliseconds left at the current rate; null before there is a rate. */
  etaMs: number | null;
}

export interface BatchOutcome extends BatchSummary {
  /** Ids another batch fetched for us: how they ended. */
  adopted: { completed: number; failed: number };
}

export interface WaitDeps {
  redis: RedisClient;
  queue: PokemonQueue;
  prefix: string;
  log: Logger;
}

/**
 * Polls a batch until every id it asked for is stored or failed, reporting progress. Keeps
 * polling through Redis outages (the connection reconnects by itself), so `--wait` survives a
 * Redis restart.
 */
export async function waitForBatch(
  deps: WaitDeps,
  batchId: string,
  onProgress: (p: BatchProgress) => void,
  /** `pollMs`: a fixed interval instead of one that follows the ETA. */
  opts: { pollMs?: number; signal?: AbortSignal } = {},
): Promise<BatchOutcome> {
  const { redis, queue, prefix, log } = deps;
  const keys = keysFor(prefix);
  // Counters are one HGETALL, so polling costs Redis little; how often follows the ETA: every
  // 250 ms through a long batch (the display cannot show more), down to every 10 ms in its last
  // moments, so `--wait` returns within ~10 ms of the last job instead of half a poll interval
  // later on average. Ids adopted from other batches cost more to check, so less often.
  const pollMs = (p: BatchProgress | undefined): number =>
    opts.pollMs ?? (p?.etaMs == null ? 50 : Math.min(250, Math.max(10, Math.round(p.etaMs / 8))));
  let last: BatchProgress | undefined;
  const adoptedEveryMs = 500;
  let adoptedCheckedAt = 0;
  const adoptedPending = new Set((await redis.smembers(keys.batchAdopted(batchId))).map(Number));
  const adopted = { completed: 0, failed: 0 };
  let warned = false;
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    try {
      if (adoptedPending.size && Date.now() - adoptedCheckedAt >= adoptedEveryMs) {
        adoptedCheckedAt = Date.now();
        await resolveAdopted(redis, queue, keys.records, adoptedPending, adopted);
      }
      const snap = await readBatch(redis, prefix, batchId);
      if (!snap) throw new Error(`batch ${batchId} does not exist (or expired)`);
      const total = snap.added + snap.queued;
      const done = snap.completed + snap.failed + adopted.completed + adopted.failed;
      const elapsed = Math.max(1, Date.now() - snap.createdAt);
      const rate = (done / elapsed) * 1000;
      last = {
        batchId, total, done, completed: snap.completed + adopted.completed, failed: snap.failed + adopted.failed,
        rate, etaMs: rate > 0 ? ((total - done) / rate) * 1000 : null,
      };
      onProgress(last);
      if (done >= total) {
        const summary = (await summarizeBatch(redis, prefix, batchId))!;
        return { ...summary, adopted };
      }
      warned = false;
    } catch (err) {
      if ((err as Error).message.includes('does not exist')) throw err;
      last = undefined; // no ETA while Redis is away: back to the plain interval
      if (!warned) log.warn({ err: (err as Error).message }, 'cannot read batch progress; retrying');
      warned = true;
    }
    await new Promise((r) => setTimeout(r, pollMs(last)));
  }
}

async function resolveAdopted(
  redis: RedisClient,
  queue: PokemonQueue,
  recordsKey: string,
  pending: Set<number>,
  tally: { completed: number; failed: number },
): Promise<void> {
  const ids = [...pending];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hexists(recordsKey, String(id));
  const stored = ((await pipe.exec()) ?? []).map(([, v]) => v === 1);
  for (const [i, id] of ids.entries()) {
    if (stored[i]) {
      pending.delete(id);
      tally.completed++;
      continue;
    }
    const state = await queue.getJobState(jobIdFor(id));
    if (state === 'failed' || state === 'unknown') {
      pending.delete(id);
      tally.failed++;
    }
  }
}
