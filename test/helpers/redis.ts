import { Redis } from 'ioredis';
import { startRedisServer, type LocalRedisServer } from '../../src/redis/local-server';

/**
 * Each test file gets its own redis-server on a free port: the machine's shared Redis on 6379 is
 * never touched, so no test can disturb another project's data (or another test file's).
 */
export async function startTestRedis(extraArgs: string[] = [], dataDir?: string): Promise<{ server: LocalRedisServer; client: Redis; url: string }> {
  const server = await startRedisServer({ extraArgs, dataDir });
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  return { server, client, url: server.url };
}

/** Every key and its type: a snapshot to prove a command left Redis as it was. */
export async function snapshotKeys(client: Redis): Promise<string[]> {
  const keys = await client.keys('*');
  return keys.sort();
}
