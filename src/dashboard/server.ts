import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { assertSafeExposure, dashboardAuthEnabled, type DashboardConfig } from '../config/dashboard-variables';
import type { Config } from '../config/variables';
import type { PokemonQueue } from '../queue/pokemon-queue';
import type { RedisClient } from '../redis/connection';
import type { BatchStore } from '../batch/batch-store';
import type { RecordStore } from '../store/record-store';
import { allowedHosts } from './allowed-hosts';
import { basicAuth } from './basic-auth';
import { BULL_BOARD_PATH, bullBoardRouter, refuseWrites } from './bull-board';
import { healthRoutes } from './health';
import { apiNotFound, errorHandler, HttpError, within } from './http-errors';
import { createMetricsRegistry } from './metrics';
import { chartJsFile, publicDir } from '../package-root';
import { pokemonApi } from './pokemon-api';
import { sameOriginWrites } from './same-origin-writes';
import { readDashboardStats } from './stats-api';

export interface DashboardDeps {
  config: Config;
  dashboard: DashboardConfig;
  /** The process's shared connection: the dashboard opens none of its own. */
  redis: RedisClient;
  /** bull-board works through this queue (and its connection). */
  queue: PokemonQueue;
  store: RecordStore;
  batches: BatchStore;
  log: Logger;
}

export interface RunningDashboard {
  /** Where it listens, e.g. `http://127.0.0.1:3000` (no trailing slash). */
  url: string;
  port: number;
  /** Stops listening and ends open connections; leaves the Redis connection and queue to their owner. */
  close(): Promise<void>;
}

/** Longest /api/stats waits for Redis; the page polls every 2 s and gives up on a request after 5. */
export const STATS_DEADLINE_MS = 3000;

/** The line `dashboard`, `start` and `demo` print, so users find every page from one URL. */
export function describeDashboard(url: string): string {
  return `dashboard: ${url}${BULL_BOARD_PATH} (stats: /stats)`;
}

/**
 * Starts the dashboard: bull-board at /admin/queues, the live /stats page, /api/stats,
 * /api/pokemon, /metrics, /healthz and /readyz. Resolves once it listens; rejects with the listen
 * error (EADDRINUSE...) or a ConfigError for an exposed address without credentials.
 */
export async function startDashboard(deps: DashboardDeps): Promise<RunningDashboard> {
  assertSafeExposure(deps.dashboard);
  const app = createDashboardApp(deps);
  const server = createServer(app);
  await listen(server, deps.dashboard.dashboardPort, deps.dashboard.dashboardHost);
  const { port } = server.address() as AddressInfo;
  const host = deps.dashboard.dashboardHost.includes(':') ? `[${deps.dashboard.dashboardHost}]` : deps.dashboard.dashboardHost;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets (browsers hold them open) would hold close() up for seconds.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The express app alone, for embedding; {@link startDashboard} is what commands use. */
export function createDashboardApp(deps: DashboardDeps): Express {
  const { dashboard, redis, queue, store, batches, log } = deps;
  const prefix = deps.config.queuePrefix;
  const metrics = createMetricsRegistry({ redis, queue, store, batches, prefix });
  const pages = publicDir();

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'same-origin' });
    next();
  });

  // Without credentials, the Host decides: a DNS-rebinding page reaches us under its own name.
  // Before the probes too, which are addressed by IP or as localhost (see allowed-hosts.ts).
  const auth = dashboardAuthEnabled(dashboard);
  if (!auth) app.use(allowedHosts([dashboard.dashboardHost, ...(dashboard.dashboardAllowedHosts ?? [])]));
  // Probes next: load balancers and orchestrators carry no credentials.
  app.use(healthRoutes(redis));
  if (auth) app.use(basicAuth({ user: dashboard.dashboardUser!, password: dashboard.dashboardPassword! }));
  app.use(sameOriginWrites());

  app.get('/', (_req, res) => res.redirect(302, BULL_BOARD_PATH));
  if (dashboard.dashboardReadOnly) app.use(BULL_BOARD_PATH, refuseWrites());
  app.use(BULL_BOARD_PATH, bullBoardRouter({ queue, prefix, readOnly: dashboard.dashboardReadOnly }));

  app.get('/stats', (_req, res) => {
    // Everything the page needs comes from here: a stray CDN reference would fail loudly.
    res.set('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    res.set('Cache-Control', 'no-cache').sendFile(join(pages, 'stats.html'));
  });
  app.get(['/static/chart.umd.js', '/static/chart.umd.js.map'], (req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').sendFile(chartJsFile() + (req.path.endsWith('.map') ? '.map' : ''));
  });
  app.use('/static', express.static(pages, { index: false, setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache') }));

  app.get('/api/stats', async (_req, res) => {
    // Without Redis there are no current numbers to give: say so at once (the /stats page then
    // shows "disconnected") rather than wait for a connection that is not there.
    if (redis.status !== 'ready') throw new HttpError(503, `Redis is unavailable (connection ${redis.status}); try again shortly`);
    res.set('Cache-Control', 'no-store').json(await within(readDashboardStats({ redis, queue, store, batches, prefix }), STATS_DEADLINE_MS, 'stats'));
  });
  app.use('/api/pokemon', pokemonApi(store));
  app.use('/api', apiNotFound);

  app.get('/metrics', async (_req, res) => {
    const body = await metrics.metrics();
    res.set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(body);
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: see /admin/queues, /stats, /api/stats, /api/pokemon, /metrics' });
  });
  app.use(errorHandler(log));
  return app;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
