import type { Redis } from 'ioredis';
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
  // The end of the batch arrives as a message (the outcome script publishes it), so `--wait`
  // returns within a round trip of the last job; polling the counters (one HGETALL) only drives
  // the progress display, and catches the end should the message be missed (a reconnect).
  const pollMs = opts.pollMs ?? 100;
  const adoptedEveryMs = 500;
  let adoptedCheckedAt = 0;
  const adoptedPending = new Set((await redis.smembers(keys.batchAdopted(batchId))).map(Number));
  const finished = listenForFinish(redis, keys.batchFinishedChannel, batchId, log);
  // Subscribed before the first poll: a batch that ends after that poll is heard, one that
  // ended before it is seen by it. (Capped: with Redis away, polling goes on without it.)
  await finished.ready;
  const adopted = { completed: 0, failed: 0 };
  let warned = false;
  try {
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
        onProgress({
          batchId, total, done, completed: snap.completed + adopted.completed, failed: snap.failed + adopted.failed,
          rate, etaMs: rate > 0 ? ((total - done) / rate) * 1000 : null,
        });
        if (done >= total) {
          const summary = (await summarizeBatch(redis, prefix, batchId))!;
          return { ...summary, adopted };
        }
        warned = false;
      } catch (err) {
        if ((err as Error).message.includes('does not exist')) throw err;
        if (!warned) log.warn({ err: (err as Error).message }, 'cannot read batch progress; retrying');
        warned = true;
      }
      await finished.sleep(pollMs);
    }
  } finally {
    finished.close();
  }
}

/**
 * A subscription to the batch-finished channel on a connection of its own (a subscribed
 * connection can do nothing else). `sleep` waits for the poll interval or for our batch's
 * message, whichever comes first.
 */
function listenForFinish(redis: RedisClient, channel: string, batchId: string, log: Logger) {
  let heard = false;
  let wake: (() => void) | undefined;
  // Redis and Cluster both have duplicate(); only their override parameters differ.
  const sub: RedisClient = (redis as Redis).duplicate();
  sub.on('error', (err: Error) => log.debug({ err: err.message }, 'batch-finished subscription error'));
  sub.on('message', (_channel: string, message: string) => {
    if (message !== batchId) return;
    heard = true;
    wake?.();
  });
  const subscribed = sub.subscribe(channel).then(
    () => undefined,
    (err: Error) => log.debug({ err: err.message }, 'cannot subscribe to batch-finished; polling only'),
  );
  let capTimer: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((resolve) => {
    capTimer = setTimeout(resolve, 1000);
  });
  return {
    ready: Promise.race([subscribed, cap]).finally(() => clearTimeout(capTimer)),
    sleep(ms: number): Promise<void> {
      if (heard) {
        // Once: if the batch still waits on ids adopted from other batches, back to polling.
        heard = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          heard = false;
          wake = undefined;
          resolve();
        };
      });
    },
    close(): void {
      sub.disconnect();
    },
  };
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
    // Gone since the store was read: it may have completed and been dropped by retention
    // (KEEP_COMPLETED_JOBS) in between, so the store decides, not the missing job.
    if (state === 'unknown' && (await redis.hexists(recordsKey, String(id)))) {
      pending.delete(id);
      tally.completed++;
      continue;
    }
    if (state === 'failed' || state === 'unknown') {
      pending.delete(id);
      tally.failed++;
    }
  }
}
