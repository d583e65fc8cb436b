/**
 * The queue-overhead baseline: the same per-id work a worker does (fetch, decompress, parse,
 * normalize, store) in one process with a fixed pool of promises and no queue, reusing
 * pokequeue's own PokeApiClient, normalizePokemon and RecordStore. No outcome recording, no
 * BullMQ. Prints `{"done":N,"failed":N,"ms":T,"cpuMs":C}`, T from the first fetch to the last store and C the CPU time it used meanwhile (the
 * process's start-up is left out, as it is for the long-running worker it is compared with).
 *
 * usage: REDIS_URL=... POKEAPI_URL=... QUEUE_PREFIX=... node dist/bench/baselines/pool-direct.js <count> <poolSize>
 */
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/log';
import { PokeApiClient } from '../../src/pokeapi/client';
import { normalizePokemon } from '../../src/pokeapi/normalize';
import { createRedis, waitForRedis } from '../../src/redis/connection';
import { RecordStore } from '../../src/store/record-store';

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  const poolSize = Number(process.argv[3]);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(poolSize) || poolSize < 1) {
    throw new Error('usage: pool-direct <count> <poolSize>');
  }
  const config = parseConfig(process.env);
  const log = createLogger('warn', { pretty: false });
  const redis = createRedis(config, { startup: 'fail-fast', log });
  await waitForRedis(redis, config);
  const store = new RecordStore(redis, config.queuePrefix);
  const client = new PokeApiClient({
    baseUrl: config.pokeapiUrl, timeoutMs: config.httpTimeoutMs, connections: poolSize,
    maxWireBytes: config.httpMaxWireBytes, maxBodyBytes: config.httpMaxBodyBytes,
  });

  let next = 1;
  let done = 0;
  let failed = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const lane = async () => {
    while (next <= count) {
      const id = next++;
      try {
        const fetched = await client.fetchPokemon(id);
        await store.put(normalizePokemon(fetched.payload, id, fetched.url));
        done++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: poolSize }, lane));
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  await client.close();
  redis.disconnect();
  process.stdout.write(`${JSON.stringify({ done, failed, ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000) })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
