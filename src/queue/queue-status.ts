import { viewOf, type BatchView } from '../batch/batch';
import type { BatchStore } from '../batch/batch-store';
import type { RedisClient } from '../redis/connection';
import type { RecordStore } from '../store/record-store';
import type { PokemonQueue } from './pokemon-queue';
import { liveWorkers, type WorkerHeartbeat } from './worker-heartbeat';

/** The fleet right now: what `status --json` prints, and what `/api/stats` and `/metrics` start from. */
export interface QueueStatus {
  /** Live worker processes (distinct host and pid). */
  workers: number;
  workerList: WorkerHeartbeat[];
  counts: Record<string, number>;
  stored: number;
  paused: boolean;
  /** Batches whose jobs are not all finished yet, newest first (of the last {@link RECENT_BATCHES}). */
  batchesInProgress: BatchView[];
}

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;
/** How many of the newest batches `status` looks at. */
export const RECENT_BATCHES = 50;

export interface QueueStatusDeps {
  redis: RedisClient;
  queue: PokemonQueue;
  store: RecordStore;
  batches: BatchStore;
  prefix: string;
}

/** One read of everything the fleet's views share: counts, live workers, the store, batches. */
export async function readQueueStatus(deps: QueueStatusDeps, now = Date.now()): Promise<QueueStatus> {
  const [counts, workerList, stored, paused, batchIds] = await Promise.all([
    deps.queue.getJobCounts(...JOB_STATES),
    liveWorkers(deps.redis, deps.prefix, now),
    deps.store.count(),
    deps.queue.isPaused(),
    deps.batches.recentIds(RECENT_BATCHES),
  ]);
  const batches = await deps.batches.readMany(batchIds);
  return {
    workers: countProcesses(workerList),
    workerList,
    counts,
    stored,
    paused,
    batchesInProgress: batches.filter((b) => b.finishedAt === null).map((b) => viewOf(b, now)),
  };
}

/** Distinct processes among heartbeats (a process could one day run several workers). */
export function countProcesses(workers: readonly WorkerHeartbeat[]): number {
  return new Set(workers.map((w) => `${w.host}:${w.pid}`)).size;
}
