import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/variables';
import { redactRedisUrl } from '../config/redact';

/** A Redis connection pokequeue talks through: a single server or a cluster. */
export type RedisClient = Redis | Cluster;

/** Redis could not be reached in time. Its message is safe to print (no password). */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

export interface RedisConnectionOptions {
  /**
   * `fail-fast`: give up after `connectTimeoutMs` when Redis was never reached (commands a user
   * waits on). `wait`: retry forever with a log line each time (long-running workers, which should
   * come up by themselves once Redis does). Both reconnect forever once they have been connected.
   */
  readonly startup: 'fail-fast' | 'wait';
  /** BullMQ workers need `maxRetriesPerRequest: null` on their connections. */
  readonly forWorker?: boolean;
  readonly connectTimeoutMs?: number;
  readonly log: Logger;
}

/** Where Redis is, for messages: the URL with its password hidden, or the cluster's nodes. */
export function describeRedis(config: Config): string {
  return config.redisClusterNodes
    ? `Redis Cluster ${config.redisClusterNodes.join(',')}`
    : `Redis at ${redactRedisUrl(config.redisUrl)}`;
}

export function createRedis(config: Config, opts: RedisConnectionOptions): RedisClient {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
  const where = describeRedis(config);
  let everReady = false;
  let lastLogged = 0;
  const retryStrategy = (times: number): number | null => {
    if (!everReady && opts.startup === 'fail-fast' && times * 500 >= connectTimeoutMs) return null;
    const delay = Math.min(250 * 2 ** Math.min(times, 4), 5000);
    // One line per few seconds is enough to say what we are waiting for, without a log flood.
    if (Date.now() - lastLogged > 4000) {
      lastLogged = Date.now();
      opts.log.warn({ attempt: times }, `${everReady ? 'lost' : 'waiting for'} ${where}; retrying in ${delay} ms`);
    }
    return delay;
  };
  const common: RedisOptions = {
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: opts.forWorker ? null : 2,
    enableReadyCheck: true,
    retryStrategy,
  };
  let client: RedisClient;
  if (config.redisClusterNodes) {
    const u = new URL(config.redisUrl);
    client = new Cluster(
      config.redisClusterNodes.map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })),
      {
        clusterRetryStrategy: retryStrategy,
        enableReadyCheck: true,
        redisOptions: {
          ...common,
          username: u.username ? decodeURIComponent(u.username) : undefined,
          password: u.password ? decodeURIComponent(u.password) : undefined,
          tls: u.protocol === 'rediss:' ? {} : undefined,
        },
      },
    );
  } else {
    client = new Redis(config.redisUrl, common);
  }
  client.on('ready', () => {
    if (everReady) opts.log.info(`reconnected to ${where}`);
    everReady = true;
  });
  // Without a listener ioredis prints every connection error as "Unhandled error event";
  // the retry strategy above already says what is happening, once every few seconds.
  client.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'redis connection error'));
  return client;
}

/** Resolves once the client is ready; rejects with a clear, password-free message otherwise. */
export async function waitForRedis(client: RedisClient, config: Config, timeoutMs = 4000): Promise<void> {
  if (client.status === 'ready') return;
  const where = describeRedis(config);
  await new Promise<void>((resolve, reject) => {
    let lastError = '';
    const onError = (err: Error) => {
      lastError = err.message;
    };
    const fail = () => {
      cleanup();
      reject(
        new RedisUnavailableError(
          `cannot reach ${where}${lastError ? ` (${lastError})` : ''}. Is Redis running? Start one with ` +
            '`redis-server` (or `docker compose up -d redis`), or set REDIS_URL.',
        ),
      );
    };
    const timer = setTimeout(fail, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', fail);
    };
    client.on('ready', onReady);
    client.on('error', onError);
    client.once('end', fail);
  });
}
