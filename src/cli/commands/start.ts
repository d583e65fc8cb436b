import type { Command } from 'commander';
import type { Logger } from 'pino';
import { ExitCode } from '../../config/errors';
import type { Config } from '../../config/variables';
import { parseDashboardConfig } from '../../config/dashboard-variables';
import { parseSpecs } from '../../ids/parse-spec';
import { isPortOpen, startRedisServer, type LocalRedisServer } from '../../redis/local-server';
import { warnAboutRedisSettings } from '../../redis/settings-check';
import { PokeQueue } from '../../api/pokequeue';
import { composeWorker, createPokeApiClient } from '../context';
import { describeEnqueue, showProgressAndSummary } from './enqueue';
import { flag, runCommand, UserFacingError } from '../run-command';

interface StartOptions {
  ids: string;
  exitWhenDone?: boolean;
  concurrency?: string;
  refresh?: boolean;
  latencyMs?: string;
}

/** Where the demo keeps its (simulated) records when QUEUE_PREFIX is not set. */
export const DEMO_PREFIX = 'pokequeue-demo';

/** The batch `start` and `demo` fetch when not told otherwise: the tutorial's first 151. */
export const DEFAULT_START_SPEC = '1-151';

export function registerStart(program: Command): void {
  for (const mode of ['start', 'demo'] as const) {
    const cmd = program
      .command(mode)
      .description(
        mode === 'start'
          ? 'the main job in one command: Redis (started locally if needed), a worker, a batch of 1-151 with progress'
          : 'the same, fully offline, against the built-in simulated PokeAPI',
      )
      .option('--ids <spec>', 'which ids to fetch', DEFAULT_START_SPEC)
      .option('--exit-when-done', "exit with the batch's exit code instead of staying up")
      .option('-c, --concurrency <n>', 'jobs the in-process worker runs at once (WORKER_CONCURRENCY)')
      .option('--refresh', 'fetch again ids that are already stored');
    if (mode === 'demo') cmd.option('--latency-ms <n>', 'simulated API latency', '50');
    cmd.action((opts: StartOptions) =>
      runCommand({ workerConcurrency: flag(opts.concurrency, '--concurrency') }, (config, log) => runMainJob(mode, config, log, opts)),
    );
  }
}

async function runMainJob(mode: 'start' | 'demo', baseConfig: Config, log: Logger, opts: StartOptions): Promise<number> {
  const parsed = parseSpecs([opts.ids]);
  const dashboardConfig = parseDashboardConfig(process.env);
  if (parsed.all) throw new UserFacingError('start/demo take explicit ids; use `pokequeue enqueue all` for everything', ExitCode.usage);
  const latencyMs = Number(opts.latencyMs ?? 0);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new UserFacingError(`--latency-ms must be a non-negative whole number (got "${opts.latencyMs}")`, ExitCode.usage);

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    let config = baseConfig;
    if (mode === 'demo') {
      const { startSimulator } = await import('../../simulator/server');
      const sim = await startSimulator({ latencyMs, jitterMs: Math.round(latencyMs / 2) });
      cleanups.push(() => sim.close());
      // Simulated records must never pass for real ones: unless told otherwise, the demo keeps
      // its data under a prefix of its own, so a later `npm start` still fetches 1-151 for real.
      config = { ...config, pokeapiUrl: sim.url, queuePrefix: process.env.QUEUE_PREFIX ? config.queuePrefix : DEMO_PREFIX };
      log.info(`simulated PokeAPI at ${sim.url} (latency ${latencyMs} ms)`);
    }
    const localRedis = await ensureRedis(config, log);
    if (localRedis) cleanups.push(() => localRedis.stop());

    // The batch goes through PokeQueue like `enqueue`'s; the worker and dashboard run on its connections.
    const pq = await PokeQueue.open(config, log);
    cleanups.push(() => pq.close());
    const ctx = pq.context;
    // The local server started above keeps an append-only file; a shared dev Redis may not.
    await warnAboutRedisSettings(ctx.redis, log);
    if (mode === 'start') {
      const client = createPokeApiClient(config, { connections: 1 });
      const probe = await client.probe().finally(() => client.close());
      if (!probe.ok) {
        throw new UserFacingError(
          `cannot reach the PokeAPI at ${config.pokeapiUrl} (${probe.problem}). ` +
            'Check your network or POKEAPI_URL, or run `npm run demo` to try pokequeue offline against its built-in simulator.',
        );
      }
    }
    // Loaded here rather than at start-up, so that short commands do not load express & co.
    const { describeDashboard, startDashboard } = await import('../../dashboard/server');
    const dashboard = await startDashboard({ ...ctx, dashboard: dashboardConfig }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') throw err;
      // Another dashboard (or anything) has the port: any free one will do for this session.
      log.warn(`port ${dashboardConfig.dashboardPort} is taken; the dashboard uses a free port instead`);
      return startDashboard({ ...ctx, dashboard: { ...dashboardConfig, dashboardPort: 0 } });
    });
    cleanups.push(() => dashboard.close());
    process.stdout.write(`${describeDashboard(dashboard.url)}\n`);
    const worker = composeWorker(ctx, config, log);
    cleanups.push(() => worker.close(5000));

    const batch = await pq.enqueue([opts.ids], { refresh: !!opts.refresh });
    process.stdout.write(`${describeEnqueue(batch)}\n`);
    const code = await showProgressAndSummary(batch);
    if (opts.exitWhenDone) return code;

    // The demo's prefix is its own, so commands from another terminal must name it.
    const env = mode === 'demo' ? `QUEUE_PREFIX=${config.queuePrefix} ` : '';
    process.stderr.write(
      `\nstill running, with a worker at concurrency ${config.workerConcurrency}. From another terminal:\n` +
        `  ${env}npx pokequeue enqueue 152-251 --wait\n` +
        `  ${env}npx pokequeue status\nDashboard: ${dashboard.url}/admin/queues and ${dashboard.url}/stats\nPress Ctrl-C to stop.\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    log.info('stopping');
    return code;
  } finally {
    await cleanup();
  }
}

/**
 * When REDIS_URL is not set and nothing answers on 127.0.0.1:6379, starts a local redis-server
 * with its append-only file under ./.data, or says exactly how to get one.
 */
async function ensureRedis(config: Config, log: Logger): Promise<LocalRedisServer | undefined> {
  if (process.env.REDIS_URL || config.redisClusterNodes) return undefined;
  if (await isPortOpen(6379)) return undefined;
  try {
    const server = await startRedisServer({ port: 6379, dataDir: '.data' });
    log.info('nothing answered on 127.0.0.1:6379: started a local redis-server there, data in ./.data (append-only file on)');
    return server;
  } catch (err) {
    throw new UserFacingError(
      `no Redis on 127.0.0.1:6379 and could not start one (${(err as Error).message.split('\n')[0]}). ` +
        'Install it (`sudo apt-get install redis-server`, `brew install redis`), run `docker compose up -d redis`, or set REDIS_URL.',
    );
  }
}
