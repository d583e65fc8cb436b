import { UnrecoverableError, Worker, type Job, MetricsTime } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/variables';
import type { PokeApiClient } from '../pokeapi/client';
import { PokeApiError, RateLimitedError } from '../pokeapi/errors';
import type { RedisClient } from '../redis/connection';
import { QUEUE_NAME } from '../redis/keys';
import type { OutcomeRecorder } from '../stats/outcome-recorder';
import type { RecordStore } from '../store/record-store';
import type { PokemonJobData } from '../types';
import type { PokemonQueue } from './pokemon-queue';
import { GroupCommit } from './group-commit';
import { JobLoopWatchdog, type JobLoopWatchdogOptions } from './job-loop-watchdog';
import { WorkerHeartbeatPublisher } from './worker-heartbeat';

export interface PokemonWorkerDeps {
  config: Config;
  /** A connection made with `forWorker: true`; BullMQ duplicates it for its blocking reads. */
  connection: RedisClient;
  /** The connection the store and the recorder were built on: records and counters go through it. */
  redis: RedisClient;
  /** Used to pause the whole queue when the API answers 429. */
  queue: PokemonQueue;
  client: PokeApiClient;
  store: RecordStore;
  recorder: OutcomeRecorder;
  log: Logger;
  workerId: string;
  concurrency: number;
  /** When set, the job loop is watched and the heartbeat vouches for it ({@link JobLoopWatchdog}). */
  jobLoop?: Pick<JobLoopWatchdogOptions, 'stuckAfterMs' | 'onStuck'>;
}

/** What a job returns: a few numbers, never the payload (BullMQ would keep it in Redis). */
export interface PokemonJobResult {
  cached: boolean;
  fetchMs?: number;
}

/** Failures BullMQ itself decides, without calling our processor. */
const BULLMQ_FAILURES: Record<string, string> = {
  'job stalled more than allowable limit': 'stalled',
  'job started more than allowable limit': 'stalled',
};

export interface RunningPokemonWorker {
  worker: Worker<PokemonJobData, PokemonJobResult>;
  /** Stop taking jobs, let those in flight finish (up to `timeoutMs`), then disconnect. */
  close(timeoutMs?: number): Promise<{ forced: boolean }>;
}

export function startPokemonWorker(deps: PokemonWorkerDeps): RunningPokemonWorker {
  const { config, client, store, recorder, log, workerId } = deps;
  let completed = 0;
  let failed = 0;
  let inFlight = 0;
  const startedAt = Date.now();
  const commits = new GroupCommit(deps.redis, store, recorder);

  const recordSafely = async (o: Parameters<OutcomeRecorder['record']>[0]) => {
    try {
      await recorder.record(o);
    } catch (err) {
      // Statistics must never fail a job whose record is safely stored.
      log.warn({ err: (err as Error).message, id: o.id }, 'could not record job timing');
    }
  };

  const processor = async (job: Job<PokemonJobData>): Promise<PokemonJobResult> => {
    const { id, batchId, refresh } = job.data;
    const waitMs = (job.processedOn ?? Date.now()) - job.timestamp;
    const retried = job.attemptsMade > 0;
    inFlight++;
    try {
      // A job can outlive the producer's check (two batches, a retention window that let the same
      // id be queued again): the store is the cache, so a stored id costs no request.
      if (!refresh && (await store.has(id))) {
        await recordSafely({ id, batchId, outcome: 'completed', waitMs, totalMs: Date.now() - job.timestamp, workerId, retried });
        completed++;
        return { cached: true };
      }
      try {
        const fetched = await client.fetchRecord(id);
        const { record } = fetched;
        // The record and its statistics go in one transaction, shared with the jobs that finish
        // in the same event-loop turn; this job completes only once that transaction has run.
        const { statsError } = await commits.commit({
          record,
          rawGzipped: fetched.gzipped,
          outcome: { id, batchId, outcome: 'completed', waitMs, fetchMs: fetched.fetchMs, totalMs: Date.now() - job.timestamp, workerId, retried },
        });
        if (statsError) log.warn({ err: statsError.message, id }, 'could not record job timing');
        completed++;
        return { cached: false, fetchMs: Math.round(fetched.fetchMs) };
      } catch (err) {
        if (err instanceof RateLimitedError) {
          log.warn({ id, pauseMs: err.retryAfterMs }, 'API answered 429: pausing the whole queue');
          await deps.queue.rateLimit(err.retryAfterMs);
          throw Worker.RateLimitError();
        }
        const reason = err instanceof PokeApiError ? err.reason : 'internal';
        const permanent = err instanceof PokeApiError && !err.retryable;
        const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (permanent || lastAttempt) {
          await recordSafely({ id, batchId, outcome: 'failed', reason, waitMs, totalMs: Date.now() - job.timestamp, workerId, retried });
          failed++;
        } else {
          await recorder.recordRetry(batchId, reason).catch(() => undefined);
        }
        log.debug({ id, reason, attempt: job.attemptsMade + 1, err: (err as Error).message }, 'job attempt failed');
        if (permanent) throw new UnrecoverableError((err as Error).message);
        throw err;
      }
    } finally {
      inFlight--;
    }
  };

  const worker = new Worker<PokemonJobData, PokemonJobResult>(QUEUE_NAME, processor, {
    connection: deps.connection,
    prefix: config.queuePrefix,
    name: workerId,
    concurrency: deps.concurrency,
    limiter: limiterFor(config.rateLimitPerSecond),
    metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
  });

  worker.on('failed', (job, err) => {
    if (!job) return;
    const reason = BULLMQ_FAILURES[err.message];
    if (!reason) return;
    failed++;
    log.error({ id: job.data.id, reason }, `job ${job.id} failed: ${err.message} (it crashed or hung every worker that ran it)`);
    void recordSafely({
      id: job.data.id, batchId: job.data.batchId, outcome: 'failed', reason,
      waitMs: (job.processedOn ?? Date.now()) - job.timestamp, totalMs: Date.now() - job.timestamp, workerId, retried: true,
    });
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'worker error'));

  const watchdog =
    deps.jobLoop &&
    new JobLoopWatchdog({
      stuckAfterMs: deps.jobLoop.stuckAfterMs,
      allSlotsBusy: () => inFlight >= deps.concurrency,
      // Off the list of live workers first, then whatever the caller does (the CLI exits).
      onStuck: (report) => void heartbeat.withdraw().finally(() => deps.jobLoop!.onStuck(report)),
    });
  watchdog?.watch(worker);

  const heartbeat = new WorkerHeartbeatPublisher(deps.connection, config.queuePrefix, () => ({
    id: workerId,
    host: workerId.split(':')[0]!,
    pid: process.pid,
    concurrency: deps.concurrency,
    startedAt,
    lastSeen: Date.now(),
    completed,
    failed,
    inFlight,
  }), watchdog);
  heartbeat.start();
  watchdog?.start();

  return {
    worker,
    async close(timeoutMs = config.shutdownTimeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const graceful = worker.close().then(() => false);
      const deadline = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      });
      const forced = await Promise.race([graceful, deadline]);
      clearTimeout(timer);
      if (forced) await worker.close(true);
      watchdog?.stop();
      await heartbeat.stop();
      return { forced };
    },
  };
}

/**
 * BullMQ's limiter is queue-wide (every worker shares one counter in Redis) and counts in fixed
 * windows, so "20 per 1000 ms" lets 20 start at the end of one window and 20 more at the start of
 * the next: 40 in one second. Ten times smaller windows keep any sliding second near the limit.
 * With the limit off a limiter is still set (very high): a 429's queue-wide pause only takes
 * effect when there is one.
 */
export function limiterFor(perSecond: number): { max: number; duration: number } {
  if (perSecond <= 0) return { max: 1_000_000, duration: 1000 };
  const max = Math.max(1, Math.floor(perSecond / 10));
  return { max, duration: Math.ceil((1000 * max) / perSecond) };
}
