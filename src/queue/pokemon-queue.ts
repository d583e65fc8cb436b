import { Queue } from 'bullmq';
import type { Config } from '../config/variables';
import type { RedisClient } from '../redis/connection';
import { QUEUE_NAME } from '../redis/schema';
import type { PokemonJobData } from '../types';

export type PokemonQueue = Queue<PokemonJobData>;

/**
 * `readOnly`: the queue does not write BullMQ's meta hash (its version, the events stream's
 * length) when it connects, as a Queue otherwise does: PokeQueue (the library, `enqueue`,
 * `status`, `get`, `export`) writes nothing until it enqueues, so a command that fails on bad
 * input, or only reads, leaves Redis as it was. BullMQ's own scripts write the stream length
 * when they first need it (getOrSetMaxEvents, on adding a job).
 */
export function createPokemonQueue(config: Config, connection: RedisClient, opts: { readOnly?: boolean } = {}): PokemonQueue {
  return new Queue<PokemonJobData>(QUEUE_NAME, { connection, prefix: config.queuePrefix, skipMetasUpdate: !!opts.readOnly });
}
