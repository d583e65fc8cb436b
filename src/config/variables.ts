import { z } from 'zod';
import { boolean, integer, threadCount } from './schemas';

/**
 * Every setting pokequeue reads from the environment, in one table: its variable, its default and
 * why the default is what it is. `.env.example` and the README's configuration table follow this
 * list (a test checks that they name every variable here).
 */

const redisUrl = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      u = new URL('invalid:');
    }
    if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '') {
      ctx.addIssue({ code: 'custom', message: 'must be a redis:// or rediss:// URL, e.g. redis://:password@127.0.0.1:6379/0' });
    } else if (!/^(?:\/(?:\d{1,5})?)?$/.test(u.pathname)) {
      // ioredis reads the path as the database number and sends whatever it got to SELECT,
      // which fails only after connecting ("/abc" crashed; "/-1" is refused by Redis). Only the
      // path is quoted: the rest of the URL may hold a password.
      ctx.addIssue({ code: 'custom', message: `must end in a database number such as /0, or no path at all (got the path "${u.pathname.slice(0, 40)}")` });
    }
  });

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL')
  // Paths are appended to it (`/pokemon/1/`): a query or fragment would swallow them.
  .refine((v) => !/[?#]/.test(v), 'must be a base URL without a query (?) or fragment (#), e.g. https://pokeapi.co/api/v2')
  // One canonical form, so `${base}/pokemon/1/` never doubles a slash.
  .transform((v) => v.replace(/\/+$/, ''));

const validPort = (p: string) => Number(p) >= 1 && Number(p) <= 65535;

const hostPortList = (example: string) =>
  z
    .string()
    .trim()
    .refine(
      (v) => v.split(',').every((n) => /^[^\s:,]+:\d{1,5}$/.test(n.trim()) && validPort(n.trim().split(':')[1]!)),
      `must be a comma-separated list of host:port (port 1-65535), e.g. ${example}`,
    )
    .transform((v) => v.split(',').map((n) => n.trim()));

const clusterNodes = hostPortList('127.0.0.1:7000,127.0.0.1:7001');

const sentinelName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits or _ . - (the name in "sentinel monitor <name> ...", e.g. mymaster)');

const prefix = z
  .string()
  .trim()
  .regex(
    /^[A-Za-z0-9_.{}-]{1,64}$/,
    'must be 1-64 letters, digits or _ . - { } (braces make a Redis Cluster hash tag)',
  );

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const configVariables = {
  redisUrl: {
    env: 'REDIS_URL',
    default: 'redis://127.0.0.1:6379',
    schema: redisUrl,
    doc: 'Redis holding the queue and the records. Passwords, rediss:// (TLS) and /DB numbers work (any other path is refused); the password is never logged.',
  },
  redisClusterNodes: {
    env: 'REDIS_CLUSTER_NODES',
    default: '',
    schema: clusterNodes.optional(),
    doc: 'Redis Cluster seed nodes (host:port,...). When set, REDIS_URL only supplies the password and TLS, and QUEUE_PREFIX must be a {hash-tag}.',
  },
  redisSentinels: {
    env: 'REDIS_SENTINELS',
    default: '',
    schema: hostPortList('10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379').optional(),
    doc: 'Redis Sentinel addresses (host:port,...). When set, every process asks them where the primary REDIS_SENTINEL_NAME is and follows it through a failover without a restart; REDIS_URL then only supplies the password, TLS and database number.',
  },
  redisSentinelName: {
    env: 'REDIS_SENTINEL_NAME',
    default: '',
    schema: sentinelName.optional(),
    doc: 'The name the sentinels know the primary by (sentinel monitor <name> ...). Required with REDIS_SENTINELS, and only with it.',
  },
  pokeapiUrl: {
    env: 'POKEAPI_URL',
    default: 'https://pokeapi.co/api/v2',
    schema: httpUrl,
    doc: 'Base URL of the PokeAPI. `npm run demo` points it at the built-in simulator.',
  },
  queuePrefix: {
    env: 'QUEUE_PREFIX',
    default: 'pokequeue',
    schema: prefix,
    doc: 'Prefix of every key pokequeue keeps in Redis (queue and records alike): two prefixes are two independent installations.',
  },
  workerConcurrency: {
    env: 'WORKER_CONCURRENCY',
    default: '10',
    schema: integer(1, 1000),
    doc: 'Jobs one worker process runs at once. Fetching is I/O-bound, so this is mostly how many requests are in flight per process.',
  },
  parseThreads: {
    env: 'PARSE_THREADS',
    default: 'auto',
    schema: threadCount,
    doc: 'Threads per worker process that decompress and parse large payloads (8 KB and up on the wire) off the event loop; 0 parses on the event loop. auto: one per CPU core beyond the first, at most 4 (1 on a 2-core machine).',
  },
  rateLimitPerSecond: {
    env: 'RATE_LIMIT_PER_SECOND',
    default: '10',
    schema: integer(0, 100000),
    doc: 'Jobs started per second across ALL workers on all machines (BullMQ queue-wide limiter); 0 turns it off. 10/s keeps within the PokeAPI fair-use policy.',
  },
  httpTimeoutMs: {
    env: 'HTTP_TIMEOUT_MS',
    default: '10000',
    schema: integer(100, 600000),
    doc: 'Deadline for one request: connect, headers and the whole body. A request past it is retried.',
  },
  httpMaxWireBytes: {
    env: 'HTTP_MAX_WIRE_BYTES',
    default: '4194304',
    schema: integer(1024, 1073741824),
    doc: 'Largest response body read from the API, as it arrives (compressed or not): 4 MiB, 6x the largest real payload uncompressed (665 KB, #151) and ~280x it gzipped. Reading stops there and the job fails as too_large, without retries.',
  },
  httpMaxBodyBytes: {
    env: 'HTTP_MAX_BODY_BYTES',
    default: '4194304',
    schema: integer(1024, 1073741824),
    doc: 'Largest body once decompressed (gzip, deflate, brotli): 4 MiB, 6x the largest real payload. Decompression stops there and the job fails as too_large, so a small body that inflates to gigabytes costs no more memory than a real one.',
  },
  jobAttempts: {
    env: 'JOB_ATTEMPTS',
    default: '5',
    schema: integer(1, 100),
    doc: 'Tries per job for retryable failures (5xx, timeouts, resets, truncated bodies). 404s never retry; 429s do not use up a try.',
  },
  backoffMs: {
    env: 'JOB_BACKOFF_MS',
    default: '1000',
    schema: integer(0, 3600000),
    doc: 'First retry delay; it doubles on each retry, with up to 50% jitter so workers do not retry in lockstep.',
  },
  storeRaw: {
    env: 'STORE_RAW',
    default: 'false',
    schema: boolean,
    doc: 'Also keep each raw payload, gzip-compressed (~7 KB each instead of ~1 KB per record).',
  },
  lockDurationMs: {
    env: 'LOCK_DURATION_MS',
    default: '10000',
    schema: integer(1000, 3600000),
    doc: 'How long a worker holds a job without renewing its lock. A killed worker\'s jobs are handed on after at most about LOCK_DURATION_MS + STALLED_INTERVAL_MS; shorter means faster recovery but more Redis traffic and a risk of double work when the event loop stalls.',
  },
  stalledIntervalMs: {
    env: 'STALLED_INTERVAL_MS',
    default: '5000',
    schema: integer(1000, 3600000),
    doc: 'How often each worker looks for jobs whose worker died.',
  },
  maxStalledCount: {
    env: 'MAX_STALLED_COUNT',
    default: '1',
    schema: integer(0, 100),
    doc: 'How many times a job may lose its worker before it is failed as a poison job (one that crashes every process that runs it).',
  },
  workerStuckMs: {
    env: 'WORKER_STUCK_MS',
    default: '60000',
    schema: integer(15000, 3600000),
    doc: 'A worker whose job loop makes no round trip to Redis for this long, while Redis answers its heartbeats, is stuck: it stops showing as live and exits 1 so its supervisor restarts it. Above the longest quiet spell of a healthy loop (a rate-limit wait, up to 30 s).',
  },
  redisLostTimeoutMs: {
    env: 'REDIS_LOST_TIMEOUT_MS',
    default: '60000',
    schema: integer(1000, 86400000),
    doc: "How long enqueue --wait (and a program's batch.progress() or done()) goes on without an answer from Redis before it gives up, with exit code 1 (the batch goes on). Workers and the dashboard never give up: they reconnect by themselves.",
  },
  shutdownTimeoutMs: {
    env: 'SHUTDOWN_TIMEOUT_MS',
    default: '30000',
    schema: integer(0, 3600000),
    doc: 'On SIGINT/SIGTERM a worker stops taking jobs and waits this long for those in flight; a second signal forces exit.',
  },
  keepCompletedJobs: {
    env: 'KEEP_COMPLETED_JOBS',
    default: '1000',
    schema: integer(0, 10000000),
    doc: 'Completed jobs kept for inspection in bull-board (records live in the store regardless). Bounds Redis memory.',
  },
  keepFailedJobs: {
    env: 'KEEP_FAILED_JOBS',
    default: '10000',
    schema: integer(0, 10000000),
    doc: 'Failed jobs kept, with their reasons, for inspection and retry.',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    default: 'info',
    schema: logLevel,
    doc: 'fatal, error, warn, info, debug, trace or silent. Logs go to stderr; command output to stdout.',
  },
} as const;

export type ConfigKey = keyof typeof configVariables;

/** The parsed configuration: one typed object, made once at the edge and passed down. */
export type Config = {
  [K in ConfigKey]: z.output<(typeof configVariables)[K]['schema']>;
};
