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
const { resolve } = require('node:path');
const { startCallgrindRedis, DIST } = require('./callgrind-redis');

const COUNT = Number(process.env.COUNT || 5000);

(async () => {
  const { benchEnv, freshPrefix, dropPrefix, waitUntil, sleep } = require(`${DIST}/bench/lib/infra.js`);
  const { startSmallApi } = require(`${DIST}/bench/lib/small-api.js`);
  const { startWorker, DIST_BENCH } = require(`${DIST}/bench/lib/processes.js`);
  const { openApp, waitForBatchDone } = require(`${DIST}/bench/lib/app.js`);
  const { enqueueBatch } = require(`${DIST}/src/queue/producer.js`);
  const { IdSet } = require(`${DIST}/src/ids/id-set.js`);
  const { jobOptions } = require(`${DIST}/src/queue/job-policy.js`);
  const { HAND_ROLLED_JOB_OPTIONS } = require(`${DIST}/bench/baselines/hand-rolled-options.js`);
  const who = process.argv.slice(2).length ? process.argv.slice(2) : ['bare', 'hand', 'ours'];
  const redis = await startCallgrindRedis();
  const api = await startSmallApi(COUNT);
  try {
    for (const w of who) {
      const prefix = freshPrefix(`cg-${w}`);
      const env = benchEnv(redis.url, api.url, prefix);
      const app = await openApp(env);
      await app.queue.waitUntilReady();
      const slow = { concurrency: 100, readyTimeoutMs: 120_000 };
      const worker = await startWorker(
        w === 'ours'
          ? { env: { ...env, LOG_LEVEL: 'info' }, ...slow }
          : w === 'hand'
            ? { env, ...slow, script: resolve(DIST_BENCH, 'baselines/hand-rolled.js'), args: ['worker', '100'], readyText: 'hand-rolled worker ready' }
            : { env, ...slow, script: resolve(DIST_BENCH, 'baselines/noop-worker.js'), args: ['100'], readyText: 'noop worker ready' },
      );
      await sleep(2000);
      const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
      // Polled every 200 ms, not the scenario's 5 ms: under callgrind, polling weighs ~50x more.
      const ir = await redis.measure(async () => {
        const t0 = performance.now();
        if (w === 'ours') {
          const { batchId } = await enqueueBatch(app, { ids: IdSet.of(ids), refresh: false, spec: 'bench' });
          await waitForBatchDone(app, batchId, t0, 1_200_000, 200);
        } else {
          const opts = w === 'hand' ? HAND_ROLLED_JOB_OPTIONS : jobOptions(app.config);
          for (let i = 0; i < ids.length; i += 1000) {
            await app.queue.addBulk(ids.slice(i, i + 1000).map((id) => ({ name: 'fetch', data: w === 'hand' ? { id } : { id, batchId: 'b-bench0000-000000' }, opts: { ...opts, jobId: `pokemon-${id}` } })));
          }
          await waitUntil(async () => Object.values(await app.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0), 1_200_000, 200);
        }
      });
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
