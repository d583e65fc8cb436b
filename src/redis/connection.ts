import type { Socket } from 'node:net';
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

/** Where Redis is, for messages: the URL with its password hidden, the cluster's nodes, or the sentinels. */
export function describeRedis(config: Config): string {
  if (config.redisSentinels) return `Redis primary "${config.redisSentinelName}" via sentinels ${config.redisSentinels.join(',')}`;
  return config.redisClusterNodes
    ? `Redis Cluster ${config.redisClusterNodes.join(',')}`
    : `Redis at ${redactRedisUrl(config.redisUrl)}`;
}

/**
 * TCP keepalive idle time. Node's libuv then probes every second, 10 times, so an idle
 * connection to a peer that vanished (a partition, a host that lost power) errors out within
 * ~15 s instead of ioredis's default 30 + 10 s. Idle connections carry nothing, so the probes
 * cost nothing worth counting.
 */
export const TCP_KEEPALIVE_MS = 5_000;

/**
 * No byte from Redis for this long while a command waits: the link is taken as dead, the socket
 * reset and a new one made (ioredis `socketTimeout`; commands are resent on the new one). A
 * link whose packets are silently dropped never errors by itself: TCP retransmits with backoff
 * for ~15 minutes, and after the link heals the next retransmission can be a minute away, so
 * without this a worker took its first job 48 s after a 70 s partition healed (3.5-4.9 s with it; on
 * the lab of test/helpers/netns.ts, which test/partition-worker.test.ts uses). Above BullMQ's
 * longest blocking wait (BZPOPMIN of at most 10 s, plus its own 1 s watchdog), which would
 * otherwise count as silence; far above any command of ours (ms).
 */
export const REDIS_SOCKET_TIMEOUT_MS = 15_000;

/**
 * ioredis drops a socket that hit its socketTimeout with `destroy()`, a normal close: the kernel
 * then keeps retransmitting whatever the socket still held, and once the link heals Redis runs
 * those commands late, after the ones ioredis resent on its new connection (measured on the
 * network lab: a SET written before the cut landed 4 s after the heal, over a newer SET). A late
 * `moveToActive` takes a job for a connection that no longer exists, and the job stalls. So the
 * socket is reset instead (RST: its unsent and unacknowledged bytes are thrown away). Patched on
 * ioredis's prototype, because BullMQ duplicates our connections (its blocking one) and the
 * copies must behave the same; a version of ioredis without this method is left as it is.
 */
const RESET_ON_TIMEOUT = Symbol('pokequeue.resetOnSocketTimeout');
function resetSocketsThatTimeOut(): void {
  const proto = Redis.prototype as unknown as { setSocketTimeout?: () => void; [RESET_ON_TIMEOUT]?: true };
  const original = proto.setSocketTimeout;
  if (typeof original !== 'function' || proto[RESET_ON_TIMEOUT]) return;
  proto[RESET_ON_TIMEOUT] = true;
  proto.setSocketTimeout = function (this: { stream?: Socket & { [RESET_ON_TIMEOUT]?: true } }) {
    const stream = this.stream;
    if (stream && !stream[RESET_ON_TIMEOUT]) {
      stream[RESET_ON_TIMEOUT] = true;
      const destroy = stream.destroy.bind(stream);
      stream.destroy = (err?: Error) => {
        if (!err?.message.startsWith('Socket timeout') || typeof stream.resetAndDestroy !== 'function') return destroy(err);
        try {
          return stream.resetAndDestroy();
        } catch {
          // A TLS socket has no TCP handle of its own to reset: close it as ioredis would.
          return destroy(err);
        }
      };
    }
    return original.call(this);
  };
}
resetSocketsThatTimeOut();

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
    keepAlive: TCP_KEEPALIVE_MS,
    socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
  };
  let client: RedisClient;
  if (config.redisSentinels) {
    client = new Redis(sentinelOptions(config, common));
  } else if (config.redisClusterNodes) {
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

/**
 * Through Redis Sentinel: ask the sentinels where the primary is, and ask again whenever the
 * connection drops, so a failover is followed without a restart. REDIS_URL still supplies the
 * primary's password, TLS and database number.
 */
function sentinelOptions(config: Config, common: RedisOptions): RedisOptions {
  const u = new URL(config.redisUrl);
  return {
    ...common,
    sentinels: config.redisSentinels!.map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })),
    name: config.redisSentinelName,
    role: 'master',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number(u.pathname.slice(1) || 0),
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // Hear a failover the moment the sentinels announce it (+switch-master) instead of on the
    // next error; the old primary may be alive, as a replica, and would answer every write
    // with READONLY: such a reply means "reconnect, ask the sentinels again, resend".
    failoverDetector: true,
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
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
