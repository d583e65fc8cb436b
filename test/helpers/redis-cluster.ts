import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startRedisServer, type LocalRedisServer } from '../../src/redis/local-server';

const run = promisify(execFile);

/** A three-master Redis Cluster on loopback, in a temp dir of its own; never the shared Redis. */
export interface LocalRedisCluster {
  nodes: LocalRedisServer[];
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, as REDIS_CLUSTER_NODES takes it. */
  seeds: string;
  stop(): Promise<void>;
}

/**
 * Starts three `redis-server --cluster-enabled yes` on free ports, joins them with
 * `redis-cli --cluster create` (no replicas) and resolves once every node says cluster_state:ok.
 */
export async function startTestRedisCluster(masters = 3, readyTimeoutMs = 20_000): Promise<LocalRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pokequeue-cluster-'));
  const nodes: LocalRedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      nodes.push(
        await startRedisServer({
          port,
          extraArgs: ['--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000'],
        }),
      );
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: readyTimeoutMs });
    const deadline = Date.now() + readyTimeoutMs;
    for (const node of nodes) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(node.port), 'cluster', 'info'], { timeout: 5000 });
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster not ok on port ${node.port} after ${readyTimeoutMs} ms:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes, seeds: addresses.join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
