import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import { progressOf, type BatchProgress, type BatchSummary } from './batch';
import { STATS_FLUSH_INTERVAL_MS } from '../stats/recorder';
import type { BatchStore } from './batch-store';

/** The batch does not exist: never created, or expired (a week after its last job). */
export class BatchNotFoundError extends Error {
  override readonly name = 'BatchNotFoundError';
  constructor(readonly batchId: string) {
    super(`batch ${batchId} does not exist (or expired)`);
  }
}

/**
 * Hears the batch-finished channel (record-outcomes publishes a batch's id when it counts its last
 * job) on one connection of its own, for any number of watchers: a waiter returns within a round
 * trip of the last job instead of a poll interval.
 */
export class FinishedBatches {
  /** Resolves once subscribed, or after a second: with Redis away, polling goes on without it. */
  readonly ready: Promise<void>;
  private readonly sub: RedisClient;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<(batchId: string) => void>();
  /** Batches announced finished, so a message that came between two waits still ends the next one. */
  private readonly heard = new Set<string>();

  constructor(redis: RedisClient, channel: string, log: Logger) {
    // Redis and Cluster both have duplicate(); only their override parameters differ.
    this.sub = (redis as Redis).duplicate();
    this.sub.on('error', (err: Error) => log.debug({ err: err.message }, 'batch-finished subscription error'));
    this.sub.on('message', (_channel: string, batchId: string) => {
      this.heard.add(batchId);
      if (this.heard.size > 1000) this.heard.delete(this.heard.values().next().value!);
      for (const wake of [...(this.waiters.get(batchId) ?? [])]) wake();
      for (const listener of this.listeners) listener(batchId);
    });
    const subscribed = this.sub.subscribe(channel).then(
      () => undefined,
      (err: Error) => log.debug({ err: err.message }, 'cannot subscribe to batch-finished; polling only'),
    );
    let cap: NodeJS.Timeout | undefined;
    this.ready = Promise.race([subscribed, new Promise<void>((r) => (cap = setTimeout(r, 1000)))]).finally(() => clearTimeout(cap));
  }

  /** Calls `listener` with every batch announced finished (a worker flushes its statistics then). */
  onFinished(listener: (batchId: string) => void): void {
    this.listeners.add(listener);
  }

  /** Resolves when `batchId` is announced finished, after `ms`, or when `signal` aborts. */
  wait(batchId: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.heard.has(batchId)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const set = this.waiters.get(batchId) ?? new Set();
      this.waiters.set(batchId, set);
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        set.delete(wake);
        if (set.size === 0) this.waiters.delete(batchId);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  close(): void {
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
    this.sub.disconnect();
  }
}

export interface WatchDeps {
  batches: BatchStore;
  finished: FinishedBatches;
  log: Logger;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** A fixed poll interval instead of one that follows the ETA (20–250 ms). */
  pollMs?: number;
}

/**
 * Follows one batch, whoever enqueued it: `progress()` yields its progress as it changes and ends
 * when the batch ends; `done()` resolves with the summary. Both may be used together, by any
 * number of consumers. Each poll is one HMGET of the batch's counters, so following a batch of a
 * million jobs costs what following ten does, and nothing here grows with the batch.
 * Keeps polling through Redis outages (the connection reconnects by itself), so a waiter survives
 * a Redis restart.
 */
export class BatchWatch {
  private finalSummary: Promise<BatchSummary> | undefined;

  constructor(
    private readonly deps: WatchDeps,
    readonly batchId: string,
  ) {}

  /** Progress on every change (and at least every second, for rate and ETA), ending with the finished batch. */
  async *progress(opts: WatchOptions = {}): AsyncGenerator<BatchProgress, void, undefined> {
    const { batches, finished, log } = this.deps;
    await finished.ready;
    let last: BatchProgress | undefined;
    let lastYield = 0;
    let warned = false;
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      let p: BatchProgress | undefined;
      try {
        const snap = await batches.read(this.batchId);
        if (!snap) throw new BatchNotFoundError(this.batchId);
        p = progressOf(snap);
        warned = false;
      } catch (err) {
        if (err instanceof BatchNotFoundError) throw err;
        if (!warned) log.warn({ err: (err as Error).message }, 'cannot read batch progress; retrying');
        warned = true;
      }
      if (p) {
        const changed = !last || p.done !== last.done || p.total !== last.total || p.finished;
        if (changed || Date.now() - lastYield >= 1000) {
          last = p;
          lastYield = Date.now();
          yield p;
        }
        if (p.finished) return;
      }
      if (p) await finished.wait(this.batchId, opts.pollMs ?? pollInterval(p), opts.signal);
      else await pause(250, opts.signal);
    }
  }

  /** The summary once the batch has finished (the same object `enqueue --wait --json` prints). */
  done(opts: Omit<WatchOptions, 'pollMs'> = {}): Promise<BatchSummary> {
    if (opts.signal) return this.waitForSummary(opts);
    this.finalSummary ??= this.waitForSummary({});
    return this.finalSummary;
  }

  private async waitForSummary(opts: WatchOptions): Promise<BatchSummary> {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    for await (const _ of this.progress(opts));
    // The counters are exact the moment the batch finishes; its timing comes with each worker's
    // next flush, which hearing the end brings forward. So the summary waits until the timing
    // covers every counted job, or at most two flush intervals (a worker killed with its last
    // second of timing unflushed never sends it: the summary then says how many it covers).
    const deadline = Date.now() + 2 * STATS_FLUSH_INTERVAL_MS + 500;
    for (;;) {
      let summary: BatchSummary | null = null;
      try {
        summary = await this.deps.batches.summary(this.batchId);
        if (!summary) throw new BatchNotFoundError(this.batchId);
      } catch (err) {
        if (err instanceof BatchNotFoundError) throw err;
      }
      if (summary && (summary.timing.total.count >= summary.completed + summary.failed || Date.now() >= deadline)) return summary;
      if (opts.signal?.aborted) throw opts.signal.reason;
      await pause(summary ? 20 : 250, opts.signal);
    }
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Polls faster as the end nears (the message usually ends the wait first). */
function pollInterval(p: BatchProgress | undefined): number {
  if (!p || p.etaMs === null) return 100;
  return Math.min(250, Math.max(20, p.etaMs / 4));
}
