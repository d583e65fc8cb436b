import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { ExitCode } from '../config/errors';
import type { Config } from '../config/variables';
import { redactRedisUrl } from '../config/redact';
import { RedisUnavailableError } from './errors';
import { probeRedis, refusalFromError, worthProbing, type RedisRefusal, type RedisTarget } from './refusal';

/** A Redis connection pokequeue talks through: a single server or a cluster. */
export type RedisClient = Redis | Cluster;

// Declared apart from the connection code (see errors.ts); importers keep finding it here.
export { RedisUnavailableError };

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

/** How often a connection that keeps failing says why (per Redis, across a process's connections). */
const REPORT_EVERY_MS = 4000;
/** A TLS handshake on loopback or a LAN takes milliseconds: one still going after this is asked about. */
const TLS_HANDSHAKE_PATIENCE_MS = 1000;
const lastReported = new Map<string, number>();

/**
 * What went wrong on a client's latest connection attempts: the last error, and a refusal once one
 * is known (from the error itself or from a probe of the server). Cleared when the client is ready.
 */
class ConnectionTrouble extends EventEmitter<{ refusal: [RedisRefusal] }> {
  lastError?: Error;
  refusal?: RedisRefusal;
  /** A probe in flight: one at a time, and at most one per REPORT_EVERY_MS. */
  probing?: Promise<void>;
  private lastProbe = 0;

  constructor(private readonly target: RedisTarget | undefined) {
    super();
  }

  onError(err: Error): void {
    this.lastError = err;
    const refusal = refusalFromError(err);
    if (refusal) return this.found(refusal);
    if (!this.target || !worthProbing(err, this.target)) {
      // Nothing answered this time (connection refused, host unknown): an old refusal no longer explains it.
      this.refusal = undefined;
      return;
    }
    this.probe();
  }

  /**
   * A TLS handshake with a plain Redis never ends: the server waits for a line, the client for
   * its answer, until the connect timeout (3 s). Asked after a second, the server says sooner.
   */
  onConnecting(): void {
    if (!this.target?.tls) return;
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = setTimeout(() => this.probe(), TLS_HANDSHAKE_PATIENCE_MS);
    this.handshakeTimer.unref();
  }

  handshakeOver(): void {
    clearTimeout(this.handshakeTimer);
  }

  private handshakeTimer?: NodeJS.Timeout;

  private probe(): void {
    if (!this.target || this.probing || Date.now() - this.lastProbe < REPORT_EVERY_MS) return;
    this.lastProbe = Date.now();
    this.probing = probeRedis(this.target)
      .then((found) => found && this.found(found))
      .catch(() => undefined)
      .finally(() => (this.probing = undefined));
  }

  clear(): void {
    this.lastError = undefined;
    this.refusal = undefined;
  }

  /** Why the last attempt failed, to follow "Redis at <url>": Redis's own words when we have them. */
  reason(): string {
    if (this.refusal) return `, which ${this.refusal.problem} ${this.refusal.advice.replace(/\.$/, '')}`;
    return this.lastError ? ` (${this.lastError.message})` : '';
  }

  private found(refusal: RedisRefusal): void {
    this.refusal = refusal;
    this.emit('refusal', refusal);
  }
}

const troubles = new WeakMap<RedisClient, ConnectionTrouble>();

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
  silenceMisleadingPasswordWarnings();
  const connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
  const where = describeRedis(config);
  let everReady = false;
  // Made with the client below; the retry strategy reads it only once the client exists.
  let trouble!: ConnectionTrouble;
  const retryStrategy = (times: number): number | null => {
    if (!everReady && opts.startup === 'fail-fast' && times * 500 >= connectTimeoutMs) return null;
    const delay = Math.min(250 * 2 ** Math.min(times, 4), 5000);
    // A command gives up with one clear error (waitForRedis); a worker waiting for Redis, or any
    // client that lost it, says why every few seconds: Redis's own words when it answered.
    if (opts.startup === 'wait' || everReady) {
      const now = Date.now();
      if (now - (lastReported.get(where) ?? 0) >= REPORT_EVERY_MS) {
        lastReported.set(where, now);
        const state = everReady ? 'lost' : 'waiting for';
        // A probe of the server may be on its way: its answer is the reason worth logging.
        void (trouble.probing ?? Promise.resolve()).then(() =>
          opts.log.warn({ attempt: times }, `${state} ${where}${trouble.reason()}; retrying in ${delay} ms`),
        );
      }
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
    // Where the primary is changes with a failover: no one address to probe for a refusal.
    trouble = new ConnectionTrouble(undefined);
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
    trouble = new ConnectionTrouble(undefined);
  } else {
    const redis = new Redis(config.redisUrl, common);
    client = redis;
    trouble = new ConnectionTrouble({ host: redis.options.host ?? '127.0.0.1', port: redis.options.port ?? 6379, tls: !!redis.options.tls });
  }
  troubles.set(client, trouble);
  client.on('connecting', () => trouble.onConnecting());
  client.on('connect', () => trouble.handshakeOver());
  client.on('end', () => trouble.handshakeOver());
  client.on('ready', () => {
    if (everReady) opts.log.info(`reconnected to ${where}`);
    everReady = true;
    trouble.clear();
  });
  // Without a listener ioredis prints every connection error as "Unhandled error event"; the
  // retry strategy above says what is happening, once every few seconds.
  client.on('error', (err: Error) => {
    opts.log.debug({ err: err.message }, 'redis connection error');
    trouble.onError(err);
  });
  trouble.on('refusal', (refusal) => {
    // ioredis goes on after a refused SELECT, on database 0: close before it is ready, so that
    // nothing is ever written to a database REDIS_URL did not name.
    if (refusal.exitCode === ExitCode.usage && client instanceof Redis) client.disconnect(true);
  });
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

/**
 * Resolves once the client is ready; rejects with a clear, password-free message otherwise.
 * `fail-fast` (commands) gives up after `timeoutMs`, and at once when Redis refuses (NOAUTH,
 * WRONGPASS, DENIED, a TLS mismatch), with what Redis said. `wait` (workers) waits through
 * refusals, since an operator may fix the server, but not through a database number the server
 * does not have: that is REDIS_URL's mistake, and exits 2.
 */
export async function waitForRedis(
  client: RedisClient,
  config: Config,
  opts: { startup: 'fail-fast' | 'wait'; timeoutMs?: number } = { startup: 'fail-fast' },
): Promise<void> {
  if (client.status === 'ready') return;
  const where = describeRedis(config);
  const trouble = troubles.get(client);
  const failFast = opts.startup === 'fail-fast';
  const timeoutMs = opts.timeoutMs ?? (failFast ? 4000 : 2 ** 31 - 1);
  await new Promise<void>((resolve, reject) => {
    const refused = (refusal: RedisRefusal) => {
      cleanup();
      reject(new RedisUnavailableError(`${where} ${refusal.problem} ${refusal.advice}`, refusal.exitCode));
    };
    const onRefusal = (refusal: RedisRefusal) => {
      if (failFast || refusal.exitCode === ExitCode.usage) refused(refusal);
    };
    const fail = async () => {
      // A probe may still be asking the server why: wait for its answer (it is bounded).
      await trouble?.probing;
      if (trouble?.refusal) return refused(trouble.refusal);
      cleanup();
      const lastError = trouble?.lastError?.message;
      reject(
        new RedisUnavailableError(
          `cannot reach ${where}${lastError ? ` (${lastError})` : ''}. Is Redis running? Start one with ` +
            '`redis-server` (or `docker compose up -d redis`), or set REDIS_URL.',
        ),
      );
    };
    const onFail = () => void fail();
    const timer = setTimeout(onFail, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onFail);
      trouble?.off('refusal', onRefusal);
    };
    client.on('ready', onReady);
    client.once('end', onFail);
    trouble?.on('refusal', onRefusal);
    if (trouble?.refusal) onRefusal(trouble.refusal);
  });
}

let warningsSilenced = false;

/**
 * ioredis prints "[WARN] Redis server does not require a password, but a password was supplied"
 * itself (console.warn) whenever an AUTH or HELLO reply contains "no password is set". Protected
 * mode's DENIED reply contains those words, so a refused connection was reported as a password
 * that is not needed. Matching ioredis' text is the only handle it gives; what went wrong is told
 * by {@link waitForRedis} and the retry log instead, in Redis's own words.
 */
function silenceMisleadingPasswordWarnings(): void {
  if (warningsSilenced) return;
  warningsSilenced = true;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && /does not require a password, but a password was supplied/.test(args[0])) return;
    warn(...args);
  };
}
