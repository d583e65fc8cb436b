/**
 * What every scenario runs against: the bench's own redis-server on a free loopback port (never
 * the machine's shared Redis), a config object built the way the CLI builds it, fresh key
 * prefixes, and bounded polling.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/variables';
import { createLogger } from '../../src/log';
import { startRedisServer, type LocalRedisServer } from '../../src/redis/local-server';
import { track } from './processes';
import type { ProbeSnapshot } from './probe';

export interface BenchRedis {
  server: LocalRedisServer;
  /** A plain client for the bench's own reads (INFO, MEMORY USAGE, cleanup). */
  client: Redis;
  url: string;
  version: string;
  stop(): Promise<void>;
}

/** Starts a private redis-server (no persistence, loopback only) and connects to it. */
export async function startBenchRedis(): Promise<BenchRedis> {
  // noeviction, as production wants; no save, no AOF: the bench measures the queue, not the disk.
  const server = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'noeviction'] });
  track(server.process);
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    server,
    client,
    url: server.url,
    version,
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}

let prefixCounter = 0;
/** A prefix no earlier run of this process used: every measured run starts from empty keys. */
export function freshPrefix(tag: string): string {
  prefixCounter++;
  return `bench-${tag}-${process.pid}-${prefixCounter}`;
}

/** The settings every measured process gets; RATE_LIMIT_PER_SECOND=0 because the API is local. */
export function benchEnv(redisUrl: string, apiUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    POKEAPI_URL: apiUrl,
    QUEUE_PREFIX: prefix,
    RATE_LIMIT_PER_SECOND: '0',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** The same typed config the CLI would build from `env`, for running src code in this process. */
export function configFrom(env: Record<string, string>): Config {
  return parseConfig(env);
}

/** A silent logger for src code run in-process. */
export function quietLogger(): Logger {
  return createLogger('silent', { pretty: false });
}

/** Deletes every key under `prefix:` (SCAN + UNLINK, never FLUSHALL) so runs do not pile up memory. */
export async function dropPrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let dropped = 0;
  for (let round = 0; round < 1_000_000; round++) {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) dropped += await client.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return dropped;
}

/** Polls `check` every `intervalMs` until it returns true; throws past `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 10, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Asks a process started with the probe for a snapshot of the window since the last one. */
export async function probeSnapshot(pid: number, file: string, timeoutMs = 5000): Promise<ProbeSnapshot | null> {
  const before = readProbe(file)?.seq ?? 0;
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return null; // already gone
  }
  let snapshot: ProbeSnapshot | null = null;
  await waitUntil(
    () => {
      snapshot = readProbe(file);
      return snapshot !== null && snapshot.seq > before;
    },
    timeoutMs,
    10,
    'the probe snapshot',
  ).catch(() => undefined);
  return snapshot;
}

function readProbe(file: string): ProbeSnapshot | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProbeSnapshot;
  } catch {
    return null; // caught mid-write
  }
}

/** CPU time redis-server has used since it started (user + system), in ms, from INFO cpu. */
export async function redisCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? NaN);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? NaN);
  return (user + sys) * 1000;
}

/** This process's own CPU time (user + system), in ms. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
