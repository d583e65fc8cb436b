import type { Command } from 'commander';
import type { Logger } from 'pino';
import { ExitCode } from '../../config/errors';
import type { Config } from '../../config/variables';
import { startPokemonWorker } from '../../queue/pokemon-worker';
import { workerIdFor } from '../../queue/worker-heartbeat';
import { createRedis, describeRedis } from '../../redis/connection';
import { openContext } from '../context';
import { flag, runCommand } from '../run-command';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a worker process: fetch and store Pokémon until SIGINT/SIGTERM')
    .option('-c, --concurrency <n>', 'jobs this process runs at once (WORKER_CONCURRENCY)')
    .action((opts: { concurrency?: string }) =>
      runCommand({ workerConcurrency: flag(opts.concurrency, '--concurrency') }, (config, log) => runWorkerProcess(config, log)),
    );
}

/**
 * A long-running worker: waits for Redis if it is not up yet, then works until a signal.
 * The first SIGINT/SIGTERM stops taking jobs and lets those in flight finish (up to
 * SHUTDOWN_TIMEOUT_MS); a second one exits at once.
 */
export async function runWorkerProcess(config: Config, log: Logger): Promise<number> {
  log.info(`worker starting: ${describeRedis(config)}, API ${config.pokeapiUrl}, concurrency ${config.workerConcurrency}`);
  const ctx = await openContext(config, log, { startup: 'wait' });
  const connection = createRedis(config, { startup: 'wait', forWorker: true, log });
  const running = startPokemonWorker({
    ...ctx,
    connection,
    workerId: workerIdFor(),
    concurrency: config.workerConcurrency,
  });
  log.info({ workerId: workerIdFor() }, `worker ready: concurrency ${config.workerConcurrency}, rate limit ${config.rateLimitPerSecond || 'off'}/s`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${signal} again: exiting now, jobs in flight will be retried by another worker`);
        process.exit(130);
      }
      stopping = true;
      log.info(`${signal}: finishing jobs in flight (up to ${config.shutdownTimeoutMs} ms; ${signal} again to force)`);
      void running.close().then(async ({ forced }) => {
        connection.disconnect();
        await ctx.close();
        log.info(forced ? 'shutdown deadline passed: stopped with jobs in flight (they will be retried)' : 'worker stopped cleanly');
        resolve(ExitCode.ok);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
