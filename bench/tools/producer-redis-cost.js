'use strict';
/**
 * Redis instructions per job for adding jobs, counted under callgrind
 * (bench/tools/callgrind-redis.js): pokequeue's producer (enqueueBatch: classify, count in,
 * addBulk, check for racing producers, seal) against bare BullMQ addBulk of the same jobs with
 * the same options, 5,000 new ids each, two rounds. No worker runs.
 *
 * usage: npm run build && node bench/tools/producer-redis-cost.js   (~1 minute)
 */
const { startCallgrindRedis, DIST } = require('./callgrind-redis');

const COUNT = 5000;

(async () => {
  const { benchEnv, freshPrefix } = require(`${DIST}/bench/lib/infra.js`);
  const { openApp, addRaw } = require(`${DIST}/bench/lib/app.js`);
  const { enqueueBatch } = require(`${DIST}/src/queue/producer.js`);
  const { IdSet } = require(`${DIST}/src/ids/id-set.js`);
  const redis = await startCallgrindRedis();
  try {
    for (const who of ['addBulk', 'enqueueBatch', 'addBulk', 'enqueueBatch']) {
      const app = await openApp(benchEnv(redis.url, 'http://127.0.0.1:1/api/v2', freshPrefix(`producer-${who}`)));
      await app.queue.waitUntilReady();
      const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
      const ir = await redis.measure(async () => {
        if (who === 'enqueueBatch') {
          await enqueueBatch(app, { ids: IdSet.of(ids), refresh: false, spec: 'bench' });
          return;
        }
        await addRaw(app, ids, 'b-bench0000-000000', 1000, 1);
      });
      await app.close();
      console.log(`${who.padEnd(13)} ${Math.round(ir / COUNT).toLocaleString('en-US').padStart(8)} Redis instructions per job (${COUNT} new ids)`);
    }
  } finally {
    await redis.stop();
  }
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
