import { Queue, type JobsOptions } from 'bullmq';
import type { Config } from '../config/variables';
import type { RedisClient } from '../redis/connection';
import { QUEUE_NAME } from '../redis/keys';
import { fetchPolicy } from '../pokeapi/fetch-policy';
import type { PokemonJobData } from '../types';

export type PokemonQueue = Queue<PokemonJobData>;

export function createPokemonQueue(config: Config, connection: RedisClient): PokemonQueue {
  return new Queue<PokemonJobData>(QUEUE_NAME, { connection, prefix: config.queuePrefix });
}

/** Options every job gets: retries with jittered backoff, and bounded retention. */
export function jobOptions(config: Config): JobsOptions {
  return {
    attempts: config.jobAttempts,
    backoff: { type: 'exponential', delay: config.backoffMs, jitter: fetchPolicy.backoffJitter },
    // Records live in the store, so finished jobs are kept only for inspection, within bounds.
    removeOnComplete: { count: config.keepCompletedJobs },
    removeOnFail: { count: config.keepFailedJobs },
  };
}
