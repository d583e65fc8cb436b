import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler, Router } from 'express';
import type { PokemonQueue } from '../queue/pokemon-queue';

export const BULL_BOARD_PATH = '/admin/queues';

export interface BullBoardOptions {
  queue: PokemonQueue;
  prefix: string;
  /** Show everything, change nothing: bull-board answers 405 to retry, remove, clean, pause... */
  readOnly: boolean;
}

/**
 * bull-board for the pokemon queue, on the dashboard's own queue connection. Metrics on: every
 * worker runs with BullMQ `metrics`, so the jobs-per-minute charts fill. The header links lead to
 * what bull-board cannot show (the `/stats` page, Prometheus metrics, the JSON behind them).
 */
export function bullBoardRouter(opts: BullBoardOptions): Router {
  const serverAdapter = new ExpressAdapter().setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(opts.queue, {
        readOnlyMode: opts.readOnly,
        // bull-board hides its header links behind an icon: say here where the rest lives.
        description: `one job per Pokémon id · Redis prefix "${opts.prefix}" · live stats at /stats`,
      }),
    ],
    // @bull-board/express 9.10.1 pins its own copy of @bull-board/api 9.10.1, whose private class
    // fields make its types clash with our 9.10.2; at run time the adapter needs nothing from it.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: {
        boardTitle: 'pokequeue',
        showMetrics: true,
        // Its Docs button leads to bull-board's own documentation, not ours.
        hideDocsLink: true,
        miscLinks: [
          { text: 'Live stats: throughput, timing, batches, workers', url: '/stats' },
          { text: 'Prometheus metrics', url: '/metrics' },
          { text: 'Stats as JSON', url: '/api/stats' },
        ],
        ...(opts.readOnly ? { environment: { label: 'read-only', color: '#64748b', textColor: '#ffffff' } } : {}),
      },
    },
  });
  return serverAdapter.getRouter() as Router;
}

/**
 * Read-only mode for every write under bull-board's path, enforced before bull-board sees it:
 * its own check is per handler, and "pause all" / "resume all" answered 200 (skipping read-only
 * queues) where every other write answered 405. A write route a later bull-board adds is refused too.
 */
export function refuseWrites(): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    res.status(405).json({ error: 'this dashboard is read-only (DASHBOARD_READ_ONLY=true): nothing can be changed' });
  };
}
