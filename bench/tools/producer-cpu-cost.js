'use strict';
/**
 * CPU time per job added, in Redis (INFO cpu) and in the adding process (process.cpuUsage):
 * pokequeue's producer (enqueueBatch: classify, count in, addBulk two chunks in flight, check for
 * racing producers, seal) against bare BullMQ addBulk of the same jobs with the same options, one
 * chunk at a time and two in flight, COUNT new ids each, three rounds in rotating order. No worker
 * runs. Then one more enqueueBatch with every command logged (SLOWLOG, zero threshold) to say
 * where its Redis time goes, script by script: BullMQ's addStandardJob, and pokequeue's own
 * classify-ids and adopt-ids (the check for racing producers).
 *
 * CPU time drifts with this VM's speed; bench/tools/producer-redis-cost.js counts instructions.
 *
 * usage: npm run build && node bench/tools/producer-cpu-cost.js   (COUNT=20000; ~1 minute)
 */
const { createHash } = require('node:crypto');
const { readdirSync } = require('node:fs');
const { resolve } = require('node:path');

const ROOT = resolve(__dirname, '..', '..');
const DIST = resolve(ROOT, 'dist');
const COUNT = Number(process.env.COUNT || 20_000);

(async () => {
  const { startBenchRedis, benchEnv, freshPrefix, dropPrefix, redisCpuMs } = require(`${DIST}/bench/lib/infra.js`);
  const { openApp, addRaw } = require(`${DIST}/bench/lib/app.js`);
  const { enqueueBatch } = require(`${DIST}/src/queue/producer.js`);
  const { IdSet } = require(`${DIST}/src/ids/id-set.js`);
  const { luaSource } = require(`${DIST}/src/redis/scripts.js`);
  const bullmqScripts = require(`${ROOT}/node_modules/bullmq/dist/cjs/scripts/index.js`);
  const redis = await startBenchRedis();
  const ids = Array.from({ length: COUNT }, (_, i) => i + 1);

  const add = {
    enqueueBatch: (app) => enqueueBatch(app, { ids: IdSet.of(ids), refresh: false, spec: 'bench' }),
    addBulk: (app) => addRaw(app, ids, 'b-bench0000-000000', 1000, 1),
    'addBulk, 2 in flight': (app) => addRaw(app, ids, 'b-bench0000-000000', 1000, 2),
  };
  const measure = async (who) => {
    const prefix = freshPrefix(`producer-cpu-${who.replace(/\W+/g, '-')}`);
    const app = await openApp(benchEnv(redis.url, 'http://127.0.0.1:1/api/v2', prefix));
    try {
      await app.queue.waitUntilReady();
      const redis0 = await redisCpuMs(redis.client);
      const own0 = process.cpuUsage();
      await add[who](app);
      const own = process.cpuUsage(own0);
      const redis1 = await redisCpuMs(redis.client);
      return { redisUs: ((redis1 - redis0) * 1000) / COUNT, ownUs: (own.user + own.system) / COUNT };
    } finally {
      await app.close();
      await dropPrefix(redis.client, prefix);
    }
  };

  try {
    const names = Object.keys(add);
    await measure('enqueueBatch'); // unmeasured: JIT and Redis warm-up
    await measure('addBulk');
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < names.length; i++) {
        const who = names[(round + i) % names.length];
        const r = await measure(who);
        console.log(`round ${round + 1}: ${who.padEnd(20)} Redis ${r.redisUs.toFixed(1)} µs/job, adding process ${r.ownUs.toFixed(1)} µs/job`);
      }
    }

    // Where enqueueBatch's Redis time goes: every top-level command logged with its duration.
    // A script is named by its SHA (EVALSHA) or, sent whole (ioredis's first EVAL on a connection),
    // by its first bytes: SLOWLOG keeps 128 bytes of each argument.
    const scriptName = new Map();
    const scripts = [];
    const known = (name, source) => {
      scriptName.set(createHash('sha1').update(source).digest('hex'), name);
      scripts.push([source.slice(0, 100), name]);
    };
    for (const file of readdirSync(resolve(ROOT, 'src/redis/lua')).filter((f) => f.endsWith('.lua'))) known(file.slice(0, -4), luaSource(file.slice(0, -4)));
    for (const s of Object.values(bullmqScripts)) if (s && s.content) known(`BullMQ ${s.name}`, s.content);
    const nameOf = (cmd, arg) =>
      (cmd === 'evalsha' ? scriptName.get(arg) : scripts.find(([head]) => arg.startsWith(head))?.[1]) ?? `script ${arg.slice(0, 8)}`;
    const [threshold, maxLen] = [await redis.client.config('GET', 'slowlog-log-slower-than'), await redis.client.config('GET', 'slowlog-max-len')];
    await redis.client.config('SET', 'slowlog-max-len', String(40 * COUNT));
    await redis.client.config('SET', 'slowlog-log-slower-than', '0');
    await redis.client.slowlog('RESET');
    await measure('enqueueBatch');
    const entries = await redis.client.slowlog('GET', String(40 * COUNT));
    await redis.client.config('SET', 'slowlog-log-slower-than', threshold[1]);
    await redis.client.config('SET', 'slowlog-max-len', maxLen[1]);
    const byScript = new Map();
    for (const [, , us, args] of entries) {
      // Commands a script runs are logged too, and their time is inside the script's: count scripts only.
      const cmd = String(args[0]).toLowerCase();
      if (cmd !== 'evalsha' && cmd !== 'eval') continue;
      const name = nameOf(cmd, String(args[1]));
      const agg = byScript.get(name) ?? { calls: 0, us: 0 };
      agg.calls++;
      agg.us += us;
      byScript.set(name, agg);
    }
    console.log(`\none enqueueBatch of ${COUNT} new ids, script time in Redis (SLOWLOG):`);
    for (const [name, a] of [...byScript].sort((x, y) => y[1].us - x[1].us)) {
      console.log(`  ${name.padEnd(26)} ${String(a.calls).padStart(6)} calls  ${(a.us / COUNT).toFixed(2)} µs per job`);
    }
  } finally {
    await redis.stop();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
