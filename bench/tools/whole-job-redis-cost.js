'use strict';
/**
 * Redis instructions per job for the whole job, added and processed, counted under callgrind
 * (bench/tools/callgrind-redis.js): pokequeue (enqueueBatch + `pokequeue worker`), the
 * hand-rolled BullMQ + undici worker (bench/baselines/hand-rolled.ts) and bare BullMQ
 * (addBulk with pokequeue's job options + bench/baselines/noop-worker.ts), each at concurrency
 * 100 against the bench's small API, the way scenario 7 (peers) runs them. The scenario's
 * `INFO cpu` figures include system time, which grows per job as a contender runs slower; the
 * instruction count does not, and repeats within a few percent.
 *
 * usage: npm run build && node bench/tools/whole-job-redis-cost.js [ours] [hand] [bare]   (COUNT=5000 jobs each; ~1 minute per contender)
 */
const { startCallgrindRedis, DIST } = require('./callgrind-redis');

const COUNT = Number(process.env.COUNT || 5000);

(async () => {
  const { benchEnv, freshPrefix, dropPrefix, sleep } = require(`${DIST}/bench/lib/infra.js`);
  const { startSmallApi } = require(`${DIST}/bench/lib/small-api.js`);
  const { startWorker } = require(`${DIST}/bench/lib/processes.js`);
  const { openApp } = require(`${DIST}/bench/lib/app.js`);
  const { addAndDrain, contenderWorker, contendersFromArgs } = require(`${DIST}/bench/lib/contenders.js`);
  const contenders = contendersFromArgs(process.argv.slice(2));
  const redis = await startCallgrindRedis();
  const api = await startSmallApi(COUNT);
  try {
    for (const { arg: w, who } of contenders) {
      const prefix = freshPrefix(`cg-${w}`);
      const env = benchEnv(redis.url, api.url, prefix);
      const app = await openApp(env);
      await app.queue.waitUntilReady();
      const worker = await startWorker(contenderWorker(who, env, 100, { readyTimeoutMs: 120_000 }));
      await sleep(2000);
      const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
      // Polled every 200 ms, not the scenario's 5 ms: under callgrind, polling weighs ~50x more.
      const ir = await redis.measure(() => addAndDrain(app, who, ids, 200, 1_200_000));
      await worker.stop(10_000);
      await app.close();
      await dropPrefix(redis.client, prefix);
      console.log(`${w.padEnd(5)} ${Math.round(ir / COUNT).toLocaleString('en-US').padStart(9)} Redis instructions per job (${COUNT} jobs, add + process)`);
    }
  } finally {
    await api.close();
    await redis.stop();
  }
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
