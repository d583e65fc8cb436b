import type { PokemonQueue } from '../queue/pokemon-queue';
import { liveWorkers, type WorkerHeartbeat } from '../queue/worker-heartbeat';
import type { RedisClient } from '../redis/connection';
import type { RecordStore } from '../store/record-store';
import { readBatch, recentBatchIds, type BatchSnapshot } from './batch-report';

export interface QueueStatus {
  /** Live worker processes (distinct host and pid). */
  workers: number;
  workerList: WorkerHeartbeat[];
  counts: Record<string, number>;
  stored: number;
  paused: boolean;
  /** Batches whose jobs are not all finished yet, newest first. */
  batchesInProgress: BatchSnapshot[];
}

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export async function readQueueStatus(deps: { redis: RedisClient; queue: PokemonQueue; store: RecordStore; prefix: string }): Promise<QueueStatus> {
  const [counts, workerList, stored, paused, batchIds] = await Promise.all([
    deps.queue.getJobCounts(...JOB_STATES),
    liveWorkers(deps.redis, deps.prefix),
    deps.store.count(),
    deps.queue.isPaused(),
    recentBatchIds(deps.redis, deps.prefix, 50),
  ]);
  const batches = await Promise.all(batchIds.map((id) => readBatch(deps.redis, deps.prefix, id)));
  return {
    workers: new Set(workerList.map((w) => `${w.host}:${w.pid}`)).size,
    workerList,
    counts,
    stored,
    paused,
    batchesInProgress: batches.filter((b): b is BatchSnapshot => b !== null && b.finishedAt === null),
  };
}
