import { Redis } from 'ioredis';
import { startRedisServer, type LocalRedisServer } from '../../src/redis/local-server';

/**
 * Each test file gets its own redis-server on a free port: the machine's shared Redis on 6379 is
 * never touched, so no test can disturb another project's data (or another test file's).
 */
export interface TestRedis {
  server: LocalRedisServer;
  /** A client for the test's own checks. */
  client: Redis;
  url: string;
  /** Disconnects the client and stops the server (stop worker processes first). */
  stop(): Promise<void>;
}

export async function startTestRedis(extraArgs: string[] = [], dataDir?: string): Promise<TestRedis> {
  const server = await startRedisServer({ extraArgs, dataDir });
  // The test's own client knows the password a test gave the server (`url` stays without it, for
  // tests of what a client without one is told); unauthenticated, it filled CI's log with NOAUTH.
  const i = extraArgs.indexOf('--requirepass');
  const password = i >= 0 ? extraArgs[i + 1] : undefined;
  const client = new Redis(server.url, { maxRetriesPerRequest: 1, password });
  return {
    server,
    client,
    url: server.url,
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}
