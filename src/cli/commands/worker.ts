import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { ExitCode } from '../../config/errors';
import type { Config } from '../../config/variables';
import type { StuckReport } from '../../queue/job-loop-watchdog';
import { workerIdFor } from '../../queue/worker-heartbeat';
import { describeRedis } from '../../redis/connection';
import { warnAboutRedisSettings } from '../../redis/settings-check';
import { composeWorker, openContext } from '../context';
import { flag, runCommand, UserFacingError } from '../run-command';
import { WORKER_READY_MESSAGE } from '../worker-ready';

/** The most worker processes one supervisor runs; beyond that, use more machines. */
export const MAX_PROCESSES = 256;

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a worker process: fetch and store Pokémon until SIGINT/SIGTERM')
    .option('-c, --concurrency <n>', 'jobs this process runs at once (WORKER_CONCURRENCY)')
    .option(
      '-p, --processes [n]',
      'run n worker processes under one supervisor that restarts a crashed one; without n (or "auto"): one per core',
    )
    .action((opts: { concurrency?: string; processes?: string | true }) =>
      runCommand({ workerConcurrency: flag(opts.concurrency, '--concurrency') }, (config, log) => {
        if (opts.processes === undefined) return runWorkerProcess(config, log);
        const processes = parseProcesses(opts.processes);
        return runSupervisedWorkers(config, log, processes, opts.concurrency === undefined ? [] : ['--concurrency', opts.concurrency]);
      }),
    );
}

/**
 * The job loop stopped turning while Redis answers (see JobLoopWatchdog): nothing in this process
 * can be trusted to unstick it, so it exits 1 and its supervisor starts a fresh one. Its jobs in
 * flight go to other workers when their locks expire, as after a crash.
 */
function exitStuck(report: StuckReport, log: Logger): void {
  log.error(
    report,
    `job loop stuck: no job taken and no answer to a fetch for ${Math.round(report.sinceLastTurnMs / 1000)} s while Redis answered ` +
      "this worker's heartbeats; no longer reporting as live, exiting 1 so a supervisor restarts it",
  );
  // A stuck loop may never let close() finish: flush the log line, then go.
  setTimeout(() => process.exit(ExitCode.failure), 200);
}

/** `--processes` as given: `true` (no value) and `auto` mean one per core. */
export function parseProcesses(value: string | true, cores = availableParallelism()): number {
  if (value === true || value.trim().toLowerCase() === 'auto') return cores;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PROCESSES) {
    throw new UserFacingError(`--processes must be a whole number from 1 to ${MAX_PROCESSES}, or auto (got "${value}")`, ExitCode.usage);
  }
  return n;
}

/**
 * Several worker processes on this machine under one supervisor (see {@link WorkerSupervisor}).
 * The first SIGINT/SIGTERM is forwarded to every child, which finish their jobs in flight; a
 * second one is forwarded too and makes them exit at once. Exits 0 after a graceful stop.
 */
export async function runSupervisedWorkers(config: Config, log: Logger, processes: number, childArgs: string[]): Promise<number> {
  log.info(
    `supervising ${processes} worker processes: ${describeRedis(config)}, API ${config.pokeapiUrl}, ` +
      `concurrency ${config.workerConcurrency} each (${processes * config.workerConcurrency} in all), ` +
      `rate limit ${config.rateLimitPerSecond || 'off'}/s shared by all`,
  );
  const { WorkerSupervisor } = await import('../worker-supervisor');
  const supervisor = new WorkerSupervisor({ processes, args: childArgs, shutdownTimeoutMs: config.shutdownTimeoutMs, log });
  const onSignal = (signal: NodeJS.Signals) => supervisor.stop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  supervisor.start();
  return supervisor.done;
}

/**
 * A long-running worker: waits for Redis if it is not up yet, then works until a signal.
 * The first SIGINT/SIGTERM stops taking jobs and lets those in flight finish (up to
 * SHUTDOWN_TIMEOUT_MS); a second one exits at once.
 */
export async function runWorkerProcess(config: Config, log: Logger): Promise<number> {
  log.info(`worker starting: ${describeRedis(config)}, API ${config.pokeapiUrl}, concurrency ${config.workerConcurrency}`);
  const ctx = await openContext(config, log, { startup: 'wait' });
  await warnAboutRedisSettings(ctx.redis, log);
  const worker = composeWorker(ctx, config, log, {
    jobLoop: { stuckAfterMs: config.workerStuckMs, onStuck: (report) => exitStuck(report, log) },
  });
  const { running } = worker;
  // Handlers go in before "worker ready" is announced: whoever reads that line may signal at
  // once, and until a handler exists a SIGTERM kills the process outright (seen on a loaded CI box).
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${signal} again: exiting now, jobs in flight will be retried by another worker`);
        process.exit(130);
      }
      stopping = true;
      log.info(`${signal}: finishing jobs in flight (up to ${config.shutdownTimeoutMs} ms; ${signal} again to force)`);
      void worker.close().then(async ({ forced }) => {
        await ctx.close();
        log.info(forced ? 'shutdown deadline passed: stopped with jobs in flight (they will be retried)' : 'worker stopped cleanly');
        resolve(ExitCode.ok);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Ready once its first heartbeat is in Redis: whoever reads the line finds it in `status`.
    void running.ready.then(() => {
      log.info({ workerId: workerIdFor() }, `worker ready: concurrency ${config.workerConcurrency}, rate limit ${config.rateLimitPerSecond || 'off'}/s`);
      // Under a supervisor (an IPC channel): say so, whatever LOG_LEVEL hides.
      process.send?.({ type: WORKER_READY_MESSAGE, workerId: workerIdFor() });
    });
    // The supervisor is gone (even killed with SIGKILL): stop as if it had sent SIGTERM, rather
    // than run on unsupervised. Nobody is left to enforce the shutdown deadline, so this does.
    if (process.send) {
      process.once('disconnect', () => {
        setTimeout(() => process.exit(130), config.shutdownTimeoutMs + 5000).unref();
        if (!stopping) onSignal('SIGTERM');
      });
    }
  });
}
