import { Queue } from 'bullmq';
import type { Config } from '../config/variables';
import type { RedisClient } from '../redis/connection';
import { QUEUE_NAME } from '../redis/schema';
import type { PokemonJobData } from '../types';

export type PokemonQueue = Queue<PokemonJobData>;

export function createPokemonQueue(config: Config, connection: RedisClient): PokemonQueue {
  return new Queue<PokemonJobData>(QUEUE_NAME, { connection, prefix: config.queuePrefix });
}
