/**
 * pokequeue's own producer side, run inside the bench process: the same config, Redis
 * connection, queue and store the CLI builds, and a batch run that ends when the batch's own
 * counters say every job finished (polled every few ms, so the bench adds little to the figure).
 */
import type { JobsOptions } from 'bullmq';
import { Agent, request } from 'undici';
import { progressOf } from '../../src/batch/batch';
import { openContext, type AppContext } from '../../src/cli/context';
import { IdSet } from '../../src/ids/id-set';
import { jobOptions } from '../../src/queue/job-policy';
import { enqueueBatch } from '../../src/queue/producer';
import { jobIdFor } from '../../src/redis/schema';
import type { PokemonJobData } from '../../src/types';
import { configFrom, quietLogger, sleep } from './infra';

export type BenchApp = AppContext;

export async function openApp(env: Record<string, string>): Promise<BenchApp> {
  // The CLI's own composition root, so the bench measures exactly what users run.
  return openContext(configFrom(env), quietLogger(), { startup: 'fail-fast' });
}

export interface BatchRun {
  batchId: string;
  /** enqueueBatch start to the poll that saw every job finished. */
  ms: number;
  added: number;
  completed: number;
  failed: number;
}

/** Enqueues `ids` as one batch (workers must be running) and waits until all its jobs finished. */
export async function runBatch(app: BenchApp, ids: number[], opts: { refresh: boolean; timeoutMs: number; pollMs?: number; onStart?: () => void }): Promise<BatchRun> {
  const started = performance.now();
  opts.onStart?.();
  const result = await enqueueBatch(app, { ids: IdSet.of(ids), refresh: opts.refresh, spec: `bench ${ids.length} ids` });
  return waitForBatchDone(app, result.batchId, started, opts.timeoutMs, opts.pollMs);
}

/** Polls the batch's counters until its progress (the same computation every view uses) says finished. */
export async function waitForBatchDone(app: BenchApp, batchId: string, started: number, timeoutMs: number, pollMs = 5): Promise<BatchRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snap = await app.batches.read(batchId);
    if (!snap) throw new Error(`batch ${batchId} vanished`);
    const p = progressOf(snap);
    if (p.finished) return { batchId, ms: performance.now() - started, added: snap.added, completed: p.completed, failed: p.failed };
    if (Date.now() > deadline) throw new Error(`batch ${batchId} not done in ${timeoutMs} ms: ${p.done} of ${p.total} finished`);
    await sleep(pollMs);
  }
}

/**
 * Requests every id once and throws the bodies away, so the simulator has built (or read) and
 * cached every payload before anything is timed: its first request for an id is far slower.
 */
export async function warmApi(apiUrl: string, ids: readonly number[], parallel = 32): Promise<void> {
  const agent = new Agent({ connections: parallel });
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const res = await request(`${apiUrl}/pokemon/${id}/`, { dispatcher: agent, headers: { 'accept-encoding': 'gzip' } });
      await res.body.dump();
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, lane));
  } finally {
    await agent.close();
  }
}

/**
 * Bare BullMQ `addBulk` of one job per id (job id `pokemon-<id>`, `data(id)` its data), `chunk`
 * jobs per call and `inFlight` calls at once: the baselines' producer, without pokequeue's checks.
 */
export async function addBare(
  app: BenchApp,
  ids: readonly number[],
  opts: JobsOptions,
  data: (id: number) => object,
  chunk = 1000,
  inFlight = 1,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const start = next;
      next += chunk;
      await app.queue.addBulk(ids.slice(start, start + chunk).map((id) => ({ name: 'fetch', data: data(id) as PokemonJobData, opts: { ...opts, jobId: jobIdFor(id) } })));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

/** {@link addBare} with pokequeue's job options and job data: the jobs enqueueBatch adds, added without its checks. */
export function addRaw(app: BenchApp, ids: readonly number[], batchId: string, chunk = 1000, inFlight = 1): Promise<void> {
  return addBare(app, ids, jobOptions(app.config), (id) => ({ id, batchId }), chunk, inFlight);
}
