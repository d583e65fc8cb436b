'use strict';
/**
 * Where Redis's time per job goes, command by command and script by script, for the whole job
 * (added and processed) of each of scenario 7's contenders: pokequeue (enqueueBatch + `pokequeue
 * worker`), the hand-rolled BullMQ + undici worker and bare BullMQ (addBulk + a no-op Worker),
 * at concurrency 100 against the bench's small API, on a redis-server of its own. Every command
 * of the measured run is logged (SLOWLOG, zero threshold) and summed by name; script calls are
 * named by the SHA1 of BullMQ's and pokequeue's Lua sources.
 *
 * SLOWLOG times are wall-clock: a command that loses its core to another process grows. So Redis
 * is pinned to core 0 and this process and its worker to core 1 (taskset), which makes the run
 * slower but the times Redis's own. whole-job-redis-cost.js counts instructions instead (exact,
 * but ~50x slower, which inflates what runs once a second).
 *
 * usage: npm run build && node bench/tools/whole-job-redis-time.js [ours] [hand] [bare]   (COUNT=20000; ~1 minute)
 */
const { createHash } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { readdirSync } = require('node:fs');
const { resolve } = require('node:path');

const ROOT = resolve(__dirname, '..', '..');
const DIST = resolve(ROOT, 'dist');
const COUNT = Number(process.env.COUNT || 20_000);
/** Rows under this many µs per job are summed into one. */
const SHOWN_US = 0.3;

(async () => {
  const { startBenchRedis, benchEnv, freshPrefix, dropPrefix, sleep } = require(`${DIST}/bench/lib/infra.js`);
  const { startSmallApi } = require(`${DIST}/bench/lib/small-api.js`);
  const { startWorker } = require(`${DIST}/bench/lib/processes.js`);
  const { openApp } = require(`${DIST}/bench/lib/app.js`);
  const { addAndDrain, contenderWorker, contendersFromArgs } = require(`${DIST}/bench/lib/contenders.js`);
  const { luaSource } = require(`${DIST}/src/redis/scripts.js`);
  const bullmqScripts = require(`${ROOT}/node_modules/bullmq/dist/cjs/scripts/index.js`);
  const sha1 = (s) => createHash('sha1').update(s).digest('hex');
  const sources = Object.values(bullmqScripts).map((s) => [s.content, `BullMQ ${s.name}`]);
  for (const f of readdirSync(resolve(ROOT, 'src/redis/lua')).filter((f) => f.endsWith('.lua'))) sources.push([luaSource(f.slice(0, -4)), `pokequeue ${f.slice(0, -4)}`]);
  const bySha = new Map(sources.map(([src, name]) => [sha1(src), name]));
  // EVAL (ioredis's first call of a script on a connection) logs the source, cut after 128 characters.
  const bySource = (text) => sources.find(([src]) => src.startsWith(text.replace(/\.\.\. \(\d+ more bytes\)$/, '')))?.[1];

  const contenders = contendersFromArgs(process.argv.slice(2));
  const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
  const redis = await startBenchRedis();
  let api;

  const run = async ({ arg: w, who }, logged) => {
    const prefix = freshPrefix(`redis-time-${w}`);
    const env = benchEnv(redis.url, api.url, prefix);
    const app = await openApp(env);
    // Started from this process, the worker inherits its core.
    const worker = await startWorker(contenderWorker(who, env, 100));
    try {
      await app.queue.waitUntilReady();
      await sleep(300);
      await redis.client.slowlog('RESET');
      if (logged) await redis.client.config('SET', 'slowlog-log-slower-than', '0');
      await addAndDrain(app, who, ids, 5);
      await redis.client.config('SET', 'slowlog-log-slower-than', '10000');
      return logged ? await redis.client.slowlog('GET', -1) : [];
    } finally {
      await worker.stop(10_000);
      await app.close();
      await dropPrefix(redis.client, prefix);
    }
  };

  try {
    execFileSync('taskset', ['-pc', '0', String(redis.server.process.pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
    api = await startSmallApi(COUNT);
    await redis.client.config('SET', 'slowlog-max-len', String(60 * COUNT));
    for (const c of contenders) await run(c, false); // unmeasured: JIT, script loading, allocator
    for (const c of contenders) {
      const w = c.arg;
      const log = await run(c, true);
      // Commands a script runs are logged too, from the client `?:0`: listed apart, as the
      // script's own time already holds theirs.
      const top = new Map();
      const inner = new Map();
      for (const [, , us, args, addr] of log) {
        const cmd = String(args[0]).toLowerCase();
        if (cmd === 'slowlog' || cmd === 'config') continue;
        const script = cmd === 'evalsha' ? bySha.get(String(args[1])) : cmd === 'eval' ? bySource(String(args[1])) : cmd;
        const rows = addr === '?:0' ? inner : top;
        const row = rows.get(script ?? `${cmd} (unknown script)`) ?? { calls: 0, us: 0 };
        row.calls++;
        row.us += us;
        rows.set(script ?? `${cmd} (unknown script)`, row);
      }
      const sum = (rows) => [...rows.values()].reduce((n, r) => n + r.us, 0);
      const print = (rows) => {
        let rest = 0;
        for (const [name, r] of [...rows].sort((a, b) => b[1].us - a[1].us)) {
          if (r.us / COUNT < SHOWN_US) rest += r.us;
          else console.log(`  ${(r.us / COUNT).toFixed(2).padStart(7)} µs  ${name} (${(r.calls / COUNT).toFixed(3)} per job)`);
        }
        console.log(`  ${(rest / COUNT).toFixed(2).padStart(7)} µs  everything else`);
      };
      const calls = (rows) => [...rows.values()].reduce((n, r) => n + r.calls, 0);
      console.log(`${w}: ${(sum(top) / COUNT).toFixed(1)} µs of Redis time per job (${COUNT} jobs, add + process; ${(calls(top) / COUNT).toFixed(2)} commands per job sent)`);
      print(top);
      console.log(`  of which inside scripts: ${(sum(inner) / COUNT).toFixed(1)} µs in ${(calls(inner) / COUNT).toFixed(1)} commands per job`);
      print(inner);
    }
  } finally {
    await api?.close();
    await redis.stop();
  }
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
