import type { Logger } from 'pino';
import type { Config } from '../config/variables';
import type { PokeApiClient } from '../pokeapi/client';
import { createPokemonQueue, type PokemonQueue } from '../queue/pokemon-queue';
import { createRedis, waitForRedis, type RedisClient } from '../redis/connection';
import { OutcomeRecorder } from '../stats/outcome-recorder';
import { RecordStore } from '../store/record-store';

/** Everything a command talks to, built once from the config: the composition root. */
export interface AppContext {
  config: Config;
  log: Logger;
  redis: RedisClient;
  queue: PokemonQueue;
  store: RecordStore;
  recorder: OutcomeRecorder;
  client: PokeApiClient;
  close(): Promise<void>;
}

export async function openContext(
  config: Config,
  log: Logger,
  /** `parseThreads`: only a worker fetches in bulk, so only a worker asks for parse threads. */
  opts: { startup: 'fail-fast' | 'wait'; connections?: number; parseThreads?: number },
): Promise<AppContext> {
  const redis = createRedis(config, { startup: opts.startup, log });
  // The queue gets a connection of its own. BullMQ defines its 64 Lua scripts on whatever client
  // it is given, and ioredis copies every defined script into each MULTI it builds: on a shared
  // client, the worker's one MULTI per job cost 34 µs instead of 6 µs to build. Both connect at
  // once: one after the other cost a short command ~10 ms more.
  const queueConnection = createRedis(config, { startup: opts.startup, log });
  try {
    await waitForRedis(redis, config, opts.startup === 'wait' ? 24 * 3600_000 : 4000);
  } catch (err) {
    redis.disconnect();
    queueConnection.disconnect();
    throw err;
  }
  const queue = createPokemonQueue(config, queueConnection);
  queue.on('error', (err) => log.debug({ err: err.message }, 'queue connection error'));
  // The HTTP client (and undici with it) is made on first use: most commands never fetch, and
  // loading it is a tenth of a second of every short command's start-up.
  let client: PokeApiClient | undefined;
  return {
    config,
    log,
    redis,
    queue,
    store: new RecordStore(redis, config.queuePrefix),
    recorder: new OutcomeRecorder(redis, config.queuePrefix),
    get client() {
      client ??= createPokeApiClient(config, opts.connections ?? config.workerConcurrency, opts.parseThreads ?? 0);
      return client;
    },
    async close() {
      await queue.close().catch(() => undefined);
      await client?.close().catch(() => undefined);
      queueConnection.disconnect();
      redis.disconnect();
    },
  };
}

/** The HTTP client for the configured API, loaded on first use: undici is a tenth of a second of start-up. */
export function createPokeApiClient(config: Config, connections: number, parseThreads = 0): PokeApiClient {
  const { PokeApiClient: Client } = require('../pokeapi/client') as typeof import('../pokeapi/client');
  return new Client({
    baseUrl: config.pokeapiUrl,
    timeoutMs: config.httpTimeoutMs,
    maxWireBytes: config.httpMaxWireBytes,
    maxBodyBytes: config.httpMaxBodyBytes,
    connections,
    keepCompressed: config.storeRaw,
    parseThreads,
  });
}
