import type { Logger } from 'pino';
import { createPokeApiClient, type AppContext } from '../api/context';
import type { Config } from '../config/variables';
import { startPokemonWorker, type PokemonWorkerDeps, type RunningPokemonWorker } from '../queue/pokemon-worker';
import { workerIdFor } from '../queue/worker-heartbeat';
import { createRedis } from '../redis/connection';
import { FleetStatsRecorder } from '../stats/recorder';

/**
 * The commands' composition root lives in src/api/context.ts, shared with the library
 * (PokeQueue); this is the path the commands import it by, with the one piece the library never
 * builds: a worker.
 */
export { createPokeApiClient, openContext, type AppContext } from '../api/context';

export interface ComposedWorker {
  running: RunningPokemonWorker;
  /** Stops the worker (finishing jobs in flight, up to `timeoutMs`) and what was built for it. */
  close(timeoutMs?: number): Promise<{ forced: boolean }>;
}

/**
 * A worker on top of a command's context: its own connection for BullMQ's blocking reads, an
 * HTTP client sized to its concurrency (with parse threads), its statistics recorder.
 */
export function composeWorker(ctx: AppContext, config: Config, log: Logger, opts: Pick<PokemonWorkerDeps, 'jobLoop'> = {}): ComposedWorker {
  const connection = createRedis(config, { startup: 'wait', forWorker: true, log });
  const client = createPokeApiClient(config, { connections: config.workerConcurrency, parseThreads: config.parseThreads });
  const running = startPokemonWorker({
    ...ctx,
    connection,
    client,
    stats: new FleetStatsRecorder(ctx.redis, config.queuePrefix, log),
    workerId: workerIdFor(),
    concurrency: config.workerConcurrency,
    ...opts,
  });
  return {
    running,
    async close(timeoutMs) {
      const result = await running.close(timeoutMs);
      connection.disconnect();
      await client.close().catch(() => undefined);
      return result;
    },
  };
}
