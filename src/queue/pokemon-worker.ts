import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BatchStore } from '../batch/batch-store';
import { FinishedBatches } from '../batch/batch-watch';
import type { Config } from '../config/variables';
import type { PokeApiClient } from '../pokeapi/client';
import type { RedisClient } from '../redis/connection';
import { QUEUE_NAME } from '../redis/schema';
import { countedInBatch, OutcomeCount } from '../redis/scripts';
import type { FleetStatsRecorder } from '../stats/recorder';
import type { RecordStore } from '../store/record-store';
import type { FinishedJob, PokemonJobData } from '../types';
import { GroupCommit, type FinishedWork } from './group-commit';
import { checkJobData } from './job-data';
import { actionFor, bullmqFailureReason, limiterFor } from './job-policy';
import { JobLoopWatchdog, type JobLoopWatchdogOptions } from './job-loop-watchdog';
import { QueuePause } from './queue-pause';
import type { PokemonQueue } from './pokemon-queue';
import { WorkerHeartbeatPublisher } from './worker-heartbeat';

export interface PokemonWorkerDeps {
  config: Config;
  /** A connection made with `forWorker: true`; BullMQ duplicates it for its blocking reads. */
  connection: RedisClient;
  /** The connection the store and the batches are built on: records and outcomes go through it. */
  redis: RedisClient;
  /** Used to pause the whole queue when the API answers 429 (queue-pause.ts). */
  queue: PokemonQueue;
  client: PokeApiClient;
  store: RecordStore;
  batches: BatchStore;
  stats: FleetStatsRecorder;
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

export interface RunningPokemonWorker {
  worker: Worker<PokemonJobData, PokemonJobResult>;
  /** Resolves once its first heartbeat is in Redis: from then on `status` and `/metrics` count it. */
  ready: Promise<void>;
  /** Stop taking jobs, let those in flight finish (up to `timeoutMs`), then disconnect. */
  close(timeoutMs?: number): Promise<{ forced: boolean }>;
}

export function startPokemonWorker(deps: PokemonWorkerDeps): RunningPokemonWorker {
  const { config, client, store, batches, stats, log, workerId } = deps;
  let completed = 0;
  let failed = 0;
  let inFlight = 0;
  const startedAt = Date.now();
  const commits = new GroupCommit(deps.redis, store, batches);
  const limiter = limiterFor(config.rateLimitPerSecond);
  const pause = new QueuePause(deps.queue, limiter !== undefined, log);

  /** Stores the record (if any) and counts the outcome; resolves once both are in Redis. */
  const finish = async (work: FinishedWork): Promise<void> => {
    const count = await commits.commit(work);
    // A job that ran twice is counted once, in its batch and in the fleet statistics alike.
    if (count === OutcomeCount.duplicate) return;
    stats.record(work.job, countedInBatch(count));
    // This job finished its batch: its summary waits for the batch's timing, so write it now.
    if (count === OutcomeCount.countedLast) void stats.flush();
    if (work.job.outcome === 'completed') completed++;
    else failed++;
  };

  const processor = async (job: Job<PokemonJobData>, token?: string): Promise<PokemonJobResult> => {
    // Before anything else: data that is not a job of ours (added by hand, through bull-board)
    // fails for good, without a request or a key written.
    const { id, batchId, refresh } = checkJobData(job, log);
    const ended = (outcome: FinishedJob['outcome'], cached: boolean, fetchMs?: number, reason?: string) =>
      finishedJob(job, id, batchId, outcome, cached, fetchMs, reason);
    inFlight++;
    try {
      // The producer added this job because the id was not stored, and no other job for the id
      // can exist meanwhile (one job id per Pokémon). Only a job run again can find its record
      // stored: its worker died after storing it, before BullMQ heard the job completed. So only
      // a re-run asks the store first: a stored id costs it no request, and a first run costs
      // Redis no extra round trip. The stored record goes through the group commit again: the
      // records' HSET and the claim of their names are two commands, and the run that died may
      // have got only the first into Redis (a cut-off link, a restart that lost the last writes).
      // A record without a name (not written by pokequeue) is counted, not rewritten.
      const rerun = job.attemptsStarted > 1 || job.attemptsMade > 0;
      const stored = !refresh && rerun ? await store.get(id) : null;
      if (stored) {
        await finish({ record: typeof stored.name === 'string' ? stored : undefined, job: ended('completed', true) });
        return { cached: true };
      }
      const fetched = await client.fetchRecord(id);
      await finish({
        record: fetched.record,
        rawGzipped: fetched.gzipped,
        job: ended('completed', false, fetched.fetchMs),
      });
      return { cached: false, fetchMs: Math.round(fetched.fetchMs) };
    } catch (err) {
      const action = actionFor(err);
      log.debug({ id, reason: action.reason, attempt: job.attemptsMade + 1, err: (err as Error).message }, 'job attempt failed');
      if (action.kind === 'pause-queue') {
        log.warn({ id, pauseMs: action.pauseMs }, 'API answered 429: pausing the whole queue');
        await pause.pauseFor(action.pauseMs);
        throw Worker.RateLimitError();
      }
      const final = action.kind === 'fail' || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final) {
        const outcome = ended('failed', false, undefined, action.reason);
        try {
          await finish({ job: outcome });
        } catch (recordErr) {
          // Failing the job uncounted would leave its batch waiting for ever: run it again later
          // instead, without using an attempt.
          log.warn({ id, err: (recordErr as Error).message }, 'could not count a failed job; it will run again');
          await job.moveToDelayed(Date.now() + Math.max(1000, config.backoffMs), token);
          throw new DelayedError();
        }
      }
      if (action.kind === 'fail') throw new UnrecoverableError((err as Error).message);
      if (!final) stats.recordRetry(action.reason);
      throw err;
    } finally {
      inFlight--;
    }
  };

  const worker = new Worker<PokemonJobData, PokemonJobResult>(QUEUE_NAME, processor, {
    connection: deps.connection,
    prefix: config.queuePrefix,
    name: workerId,
    concurrency: deps.concurrency,
    ...(limiter ? { limiter } : {}),
    // No `metrics`: BullMQ's job metrics (bull-board's chart) are written by the statistics flush,
    // once a second, not by BullMQ with two more commands in every job's moveToFinished.
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
  });

  // Failures BullMQ decides without calling the processor: a job that stalled too often.
  worker.on('failed', (job, err) => {
    const reason = job ? bullmqFailureReason(job) : undefined;
    if (!job || !reason) return;
    log.error({ id: job.data.id, reason }, `job ${job.id} failed: ${err.message} (it crashed or hung every worker that ran it)`);
    const outcome = finishedJob(job, job.data.id, job.data.batchId, 'failed', false, undefined, reason);
    finish({ job: outcome }).catch((e: Error) => log.warn({ err: e.message, id: job.data.id }, 'could not count a stalled job'));
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

  stats.start();
  // A pause-only limit left by a worker killed mid-pause costs every job three commands: lift it.
  pause.liftIfOver().catch((err: Error) => log.debug({ err: err.message }, 'could not check for a pause-only rate limit'));
  // A batch's summary waits for its timing: every worker writes what it holds as soon as it
  // hears the batch finished, not at its next flush. (A moment later: a reply to its own last
  // commit of that batch, sent before the message, may still be on its way on another socket.)
  const finishedBatches = new FinishedBatches(deps.redis, batches.keys.batchFinishedChannel, log);
  finishedBatches.onFinished(() => setTimeout(() => void stats.flush(), 20).unref());
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
    jobsPerSecond: stats.ownJobsPerSecond(startedAt),
  }), watchdog);
  const ready = heartbeat.start();
  watchdog?.start();

  return {
    worker,
    ready,
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
      pause.stop();
      finishedBatches.close();
      await Promise.all([heartbeat.stop(), stats.stop()]);
      return { forced };
    },
  };
}

/**
 * One job's end, as its batch and the statistics count it. Built as one literal, every field in
 * the same order whatever the outcome: a spread of a shared part into a literal with more fields
 * took V8 ~3 µs per job, and one shape keeps the code that reads it monomorphic.
 */
function finishedJob(
  job: Pick<Job, 'attemptsMade' | 'processedOn' | 'timestamp'>,
  id: number,
  batchId: string,
  outcome: FinishedJob['outcome'],
  cached: boolean,
  fetchMs: number | undefined,
  reason: string | undefined,
): FinishedJob {
  const now = Date.now();
  return { id, batchId, outcome, reason, cached, attemptsMade: job.attemptsMade, waitMs: (job.processedOn ?? now) - job.timestamp, fetchMs, totalMs: now - job.timestamp };
}
