import type { Logger } from 'pino';
import { BatchStore } from '../batch/batch-store';
import type { Config } from '../config/variables';
import type { PokeApiClient } from '../pokeapi/client';
import { createPokemonQueue, type PokemonQueue } from '../queue/pokemon-queue';
import { createRedis, waitForRedis, type RedisClient } from '../redis/connection';
import { RecordStore } from '../store/record-store';

/**
 * What every command and the library's PokeQueue talk to, built once from the config: the
 * composition root (the CLI's worker and dashboard use it directly; everything else goes through
 * PokeQueue, api/pokequeue.ts, which is built on it). Plain values,
 * nothing built behind a getter: what a command needs beyond this (an HTTP client, a worker, a
 * batch watcher) it builds itself, explicitly.
 */
export interface AppContext {
  config: Config;
  log: Logger;
  /** Our own keys (store, batches, statistics) go through this connection. */
  redis: RedisClient;
  queue: PokemonQueue;
  store: RecordStore;
  batches: BatchStore;
  close(): Promise<void>;
}

/**
 * `startup`: see createRedis. `readOnlyQueue`: the queue writes nothing on connecting (see
 * createPokemonQueue); PokeQueue asks for it, the worker and the dashboard do not.
 */
export async function openContext(config: Config, log: Logger, opts: { startup: 'fail-fast' | 'wait'; readOnlyQueue?: boolean }): Promise<AppContext> {
  const redis = createRedis(config, { startup: opts.startup, log });
  // The queue gets a connection of its own. BullMQ defines its 64 Lua scripts on whatever client
  // it is given, and ioredis copies every defined script into each MULTI it builds: on a shared
  // client, the worker's one MULTI per job cost 34 µs instead of 6 µs to build. Both connect at
  // once: one after the other cost a short command ~10 ms more.
  const queueConnection = createRedis(config, { startup: opts.startup, log });
  try {
    await waitForRedis(redis, config, { startup: opts.startup });
  } catch (err) {
    redis.disconnect();
    queueConnection.disconnect();
    throw err;
  }
  const queue = createPokemonQueue(config, queueConnection, { readOnly: opts.readOnlyQueue });
  queue.on('error', (err) => log.debug({ err: err.message }, 'queue connection error'));
  return {
    config,
    log,
    redis,
    queue,
    store: new RecordStore(redis, config.queuePrefix),
    batches: new BatchStore(redis, config.queuePrefix),
    async close() {
      await queue.close().catch(() => undefined);
      queueConnection.disconnect();
      redis.disconnect();
    },
  };
}

/**
 * The PokeAPI client, for the commands that fetch. undici is loaded here, not at start-up: most
 * commands never fetch, and loading it is a tenth of a second of every short command's start-up.
 * `parseThreads`: only a worker fetches in bulk, so only a worker asks for parse threads.
 */
export function createPokeApiClient(config: Config, opts: { connections: number; parseThreads?: number }): PokeApiClient {
  const { PokeApiClient: Client } = require('../pokeapi/client') as typeof import('../pokeapi/client');
  return new Client({
    baseUrl: config.pokeapiUrl,
    timeoutMs: config.httpTimeoutMs,
    maxWireBytes: config.httpMaxWireBytes,
    maxBodyBytes: config.httpMaxBodyBytes,
    connections: opts.connections,
    keepCompressed: config.storeRaw,
    parseThreads: opts.parseThreads ?? 0,
  });
}
