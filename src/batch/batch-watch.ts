import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection';
import { STATS_FLUSH_INTERVAL_MS } from '../stats/recorder';
import { BatchNotFoundError, BatchWatchLostError, progressOf, type BatchProgress, type BatchSummary } from './batch';
import type { BatchStore } from './batch-store';

/**
 * Hears the batch-finished channel (commit-group.lua publishes a batch's id when it counts its last
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
  /** Ends every wait of this watch, shared or not, with its reason (its owner closed). */
  signal?: AbortSignal;
  /**
   * With no answer from Redis for this long, the wait ends with BatchWatchLostError (the batch
   * goes on): rides out a restart, not a Redis that is gone. REDIS_LOST_TIMEOUT_MS.
   * @defaultValue no limit
   */
  lostAfterMs?: number;
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
    const joined = both(this.deps.signal, opts.signal);
    const signal = joined.signal;
    try {
      yield* this.follow(signal, opts.pollMs);
    } finally {
      joined.dispose();
    }
  }

  private async *follow(signal: AbortSignal | undefined, pollMs: number | undefined): AsyncGenerator<BatchProgress, void, undefined> {
    const { batches, finished, log } = this.deps;
    await finished.ready;
    let last: BatchProgress | undefined;
    let lastYield = 0;
    let warned = false;
    let answeredAt = Date.now();
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      let p: BatchProgress | undefined;
      try {
        // A read stuck on a dead link would only fail after the socket gives up: the deadline
        // does not wait for it.
        const snap = await this.answered(batches.read(this.batchId), answeredAt, last);
        answeredAt = Date.now();
        if (!snap) throw new BatchNotFoundError(this.batchId);
        p = progressOf(snap);
        warned = false;
      } catch (err) {
        if (err instanceof BatchNotFoundError || err instanceof BatchWatchLostError) throw err;
        if (signal?.aborted) throw signal.reason;
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
      if (p) await finished.wait(this.batchId, pollMs ?? pollInterval(p), signal);
      else await pause(250, signal);
    }
  }

  /**
   * The summary once the batch has finished (the same object `enqueue --wait --json` prints).
   * Every caller shares one wait; a caller's own signal ends only its own.
   */
  done(opts: Omit<WatchOptions, 'pollMs'> = {}): Promise<BatchSummary> {
    if (!this.finalSummary) {
      this.finalSummary = this.waitForSummary();
      // A caller that stopped waiting (its signal) leaves the shared wait without a listener.
      this.finalSummary.catch(() => undefined);
    }
    return opts.signal ? untilAborted(this.finalSummary, opts.signal) : this.finalSummary;
  }

  /** `read`, unless Redis has been silent for `lostAfterMs` since `answeredAt` first. */
  private answered<T>(read: Promise<T>, answeredAt: number, last: BatchProgress | undefined): Promise<T> {
    const limit = this.deps.lostAfterMs;
    if (limit === undefined) return read;
    let timer: NodeJS.Timeout | undefined;
    const lost = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BatchWatchLostError(this.batchId, limit, last)), Math.max(0, answeredAt + limit - Date.now()));
    });
    read.catch(() => undefined); // settled after the deadline: nobody listens any more
    return Promise.race([read, lost]).finally(() => clearTimeout(timer));
  }

  private async waitForSummary(): Promise<BatchSummary> {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    for await (const _ of this.progress());
    // The counters are exact the moment the batch finishes; its timing comes with each worker's
    // next flush, which hearing the end brings forward. So the summary waits until the timing
    // covers every counted job, or at most two flush intervals (a worker killed with its last
    // second of timing unflushed never sends it: the summary then says how many it covers).
    const deadline = Date.now() + 2 * STATS_FLUSH_INTERVAL_MS + 500;
    let answeredAt = Date.now();
    for (;;) {
      let summary: BatchSummary | null = null;
      try {
        summary = await this.answered(this.deps.batches.summary(this.batchId), answeredAt, undefined);
        answeredAt = Date.now();
        if (!summary) throw new BatchNotFoundError(this.batchId);
      } catch (err) {
        if (err instanceof BatchNotFoundError || err instanceof BatchWatchLostError) throw err;
      }
      if (summary && (summary.timing.total.count >= summary.completed + summary.failed || Date.now() >= deadline)) return summary;
      if (this.deps.signal?.aborted) throw this.deps.signal.reason;
      await pause(summary ? 20 : 250, this.deps.signal);
    }
  }
}

/**
 * One signal for two (either may be absent); `dispose` removes its listeners again, so a
 * long-lived owner's signal does not collect one per wait that ended.
 */
function both(a: AbortSignal | undefined, b: AbortSignal | undefined): { signal: AbortSignal | undefined; dispose(): void } {
  if (!a || !b) return { signal: a ?? b, dispose: () => undefined };
  const joined = new AbortController();
  const onA = () => joined.abort(a.reason);
  const onB = () => joined.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return {
    signal: joined.signal,
    dispose() {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}

/** `promise`, or its rejection with the signal's reason once `signal` aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
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
