/**
 * Scenario 7's three contenders, as every measurement of them runs them (bench/scenarios/peers.ts
 * and the whole-job tools in bench/tools/): how each one's worker process is started, and how its
 * jobs are added from the bench process and waited for.
 * - pokequeue: `pokequeue worker`, jobs added by enqueueBatch (the CLI's producer);
 * - the hand-rolled BullMQ + undici worker (baselines/hand-rolled.ts), its jobs added with addBulk;
 * - bare BullMQ: a no-op Worker (baselines/noop-worker.ts), addBulk with pokequeue's job options.
 */
import { resolve } from 'node:path';
import { IdSet } from '../../src/ids/id-set';
import { enqueueBatch } from '../../src/queue/producer';
import { HAND_ROLLED_JOB_OPTIONS } from '../baselines/hand-rolled-options';
import { addBare, addRaw, waitForBatchDone, type BenchApp } from './app';
import { waitUntil } from './infra';
import { DIST_BENCH, type WorkerLaunch } from './processes';

export type Contender = 'ours' | 'hand-rolled' | 'bullmq';

/** The short names the tools take on their command line. */
const BY_ARG: Record<string, Contender> = { ours: 'ours', hand: 'hand-rolled', bare: 'bullmq' };

/** The contenders a tool's arguments name (`ours`, `hand`, `bare`; all three, bare first, when none), with the name given. */
export function contendersFromArgs(args: readonly string[]): { arg: string; who: Contender }[] {
  return (args.length ? args : ['bare', 'hand', 'ours']).map((arg) => {
    const who = BY_ARG[arg];
    if (!who) throw new Error(`unknown contender ${arg}: use ours, hand or bare`);
    return { arg, who };
  });
}

/** The contender's worker process at `concurrency`; `extra` adds launch options (node flags, a longer ready timeout). */
export function contenderWorker(who: Contender, env: Record<string, string>, concurrency: number, extra: Partial<WorkerLaunch> = {}): WorkerLaunch {
  if (who === 'ours') return { env: { ...env, LOG_LEVEL: 'info' }, concurrency, ...extra };
  if (who === 'hand-rolled') {
    return { env, concurrency, script: resolve(DIST_BENCH, 'baselines/hand-rolled.js'), args: ['worker', String(concurrency)], readyText: 'hand-rolled worker ready', ...extra };
  }
  return { env, concurrency, script: resolve(DIST_BENCH, 'baselines/noop-worker.js'), args: [String(concurrency)], readyText: 'noop worker ready', ...extra };
}

/**
 * Adds one job per id as the contender's producer does, from this process, then waits until the
 * queue is drained (and, for pokequeue, its batch finished with every job completed), polling
 * every `pollMs`. The contender's worker must be running. `onAdded` is called once every job is
 * added, before the wait.
 */
export async function addAndDrain(app: BenchApp, who: Contender, ids: readonly number[], pollMs: number, timeoutMs = 600_000, onAdded?: () => void): Promise<void> {
  const started = performance.now();
  let batchId: string | undefined;
  if (who === 'ours') batchId = (await enqueueBatch(app, { ids: IdSet.of(ids), refresh: false, spec: 'bench' })).batchId;
  else if (who === 'bullmq') await addRaw(app, ids, 'b-bench0000-000000');
  else await addBare(app, ids, HAND_ROLLED_JOB_OPTIONS, (id) => ({ id }));
  onAdded?.();
  await waitUntil(
    async () => Object.values(await app.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0),
    timeoutMs,
    pollMs,
    `the ${who} worker to drain the queue`,
  );
  if (batchId) {
    const run = await waitForBatchDone(app, batchId, started, 10_000, pollMs);
    if (run.completed !== ids.length) throw new Error(`pokequeue: ${run.completed} of ${ids.length} jobs completed, ${run.failed} failed`);
  }
}
