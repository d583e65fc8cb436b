import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, isPortOpen, startRedisServer, type LocalRedisServer } from '../../src/redis/local-server';
import { until } from './until';

/**
 * A Redis Sentinel deployment on loopback: a primary, a replica, and three sentinels
 * (`redis-server <conf> --sentinel`, from the same package as redis-server) that agree on a
 * failover with a quorum of two. Sentinels rewrite their configuration file, so each gets one in
 * a temporary directory, removed by `stop()`.
 */
export interface SentinelSetup {
  /** The name the sentinels monitor the primary under. */
  name: string;
  /** `host:port,...`, what REDIS_SENTINELS takes. */
  sentinels: string;
  primary: LocalRedisServer;
  replica: LocalRedisServer;
  /** The primary's address as the sentinels see it now. */
  currentPrimaryPort(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinelSetup(name = 'pqprimary'): Promise<SentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'pq-sentinel-'));
  // Their own directories: a replica writes the copy it syncs to disk, by default where it runs.
  const dirFor = (name: string) => {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  };
  const primary = await startRedisServer({ extraArgs: ['--dir', dirFor('primary')] });
  const replica = await startRedisServer({ extraArgs: ['--dir', dirFor('replica'), '--replicaof', '127.0.0.1', String(primary.port)] });
  const probe = new Redis(replica.url, { maxRetriesPerRequest: 1 });
  await until(async () => /master_link_status:up/.test(await probe.info('replication')), 10_000, 'the replica to sync');
  probe.disconnect();

  const sentinels: { port: number; child: ChildProcess }[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
        // Short, so a test sees the failover in seconds; production keeps the defaults (30 s).
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] });
    sentinels.push({ port, child });
  }
  const stopAll = async () => {
    for (const s of sentinels) s.child.kill('SIGKILL');
    await Promise.all([primary.stop(), replica.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const s of sentinels) await until(() => isPortOpen(s.port), 10_000, `sentinel on ${s.port}`);
    // Every sentinel must know the replica and the other sentinels before a failover can work.
    await until(
      async () => {
        for (const s of sentinels) {
          const c = new Redis({ port: s.port, maxRetriesPerRequest: 1, lazyConnect: true });
          try {
            await c.connect();
            const [master] = (await c.call('SENTINEL', 'MASTERS')) as string[][];
            const info = Object.fromEntries((master ?? []).reduce<string[][]>((pairs, v, i, a) => (i % 2 ? pairs : [...pairs, [v, a[i + 1]!]]), []));
            if (Number(info['num-slaves']) < 1 || Number(info['num-other-sentinels']) < 2) return false;
          } finally {
            c.disconnect();
          }
        }
        return true;
      },
      30_000,
      'the sentinels to discover the replica and each other',
      250,
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    name,
    sentinels: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    primary,
    replica,
    async currentPrimaryPort() {
      const c = new Redis({ port: sentinels[0]!.port, maxRetriesPerRequest: 1 });
      try {
        const [, port] = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
        return Number(port);
      } finally {
        c.disconnect();
      }
    },
    stop: stopAll,
  };
}
