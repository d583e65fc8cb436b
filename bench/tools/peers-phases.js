'use strict';
/**
 * Scenario 7's run cut in two: while the jobs are being added, and after. For pokequeue and the
 * hand-rolled BullMQ + undici worker (or the contenders named), each run adds COUNT jobs from
 * this process (which also serves the bench's small API, as in scenario 7) to a worker at
 * concurrency 100 that was started and left idle, as scenario 7 does it (WARM=N first gives it N
 * jobs of its own, unmeasured, as a worker that has been running a while). It reads the API's
 * request count and the CPU time of the worker, of this process and of Redis when the adding
 * ends and when the run does (Redis's from a reading every 100 ms). It prints per run:
 * - the adding phase: how long adding took, how many jobs were fetched meanwhile, and the cores
 *   each of the three processes used;
 * - the rest of the run: jobs per second and the same cores;
 * and, over reps, the medians.
 *
 * Why: throughput follows the CPU the three processes spend per job on 2 cores, but not
 * evenly over a run. This says which process is the bottleneck in each phase: after the adding,
 * the worker's process uses a whole core while the other two leave part of the second idle.
 *
 * usage: npm run build && node bench/tools/peers-phases.js [ours] [hand] [bare]   (REPS=3, COUNT=20000, WARM=0; ~1 minute)
 */
const { resolve } = require('node:path');

const DIST = resolve(__dirname, '..', '..', 'dist');
const COUNT = Number(process.env.COUNT || 20_000);
const REPS = Number(process.env.REPS || 3);
const SAMPLE_MS = 100;

(async () => {
  const { startBenchRedis, benchEnv, freshPrefix, dropPrefix, sleep, redisCpuMs, ownCpuMs } = require(`${DIST}/bench/lib/infra.js`);
  const { startSmallApi } = require(`${DIST}/bench/lib/small-api.js`);
  const { startWorker, procCpuMs } = require(`${DIST}/bench/lib/processes.js`);
  const { openApp } = require(`${DIST}/bench/lib/app.js`);
  const { addAndDrain, contenderWorker, contendersFromArgs } = require(`${DIST}/bench/lib/contenders.js`);
  const warm = Number(process.env.WARM || 0);

  const args = process.argv.slice(2);
  const contenders = contendersFromArgs(args.length ? args : ['ours', 'hand']);
  const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
  const redis = await startBenchRedis();
  let api;

  /** One run: the samples at the end of adding and at the end of the run. */
  const run = async ({ arg, who }) => {
    const prefix = freshPrefix(`phases-${arg}`);
    const env = benchEnv(redis.url, api.url, prefix);
    const app = await openApp(env);
    const worker = await startWorker(contenderWorker(who, env, 100));
    let timer;
    try {
      await app.queue.waitUntilReady();
      await sleep(300);
      if (warm > 0) {
        await addAndDrain(app, who, Array.from({ length: warm }, (_, i) => COUNT + 1 + i), 5);
        await sleep(300);
      }
      const t0 = performance.now();
      const [worker0, own0, redis0, req0] = [procCpuMs(worker.pid), ownCpuMs(), await redisCpuMs(redis.client), api.requests()];
      // Redis's CPU is read over a connection, so a sample takes the latest reading (at most
      // SAMPLE_MS old); the rest is read at once.
      let redisNow = redis0;
      const sample = () => ({ ms: performance.now() - t0, jobs: api.requests() - req0, worker: procCpuMs(worker.pid) - worker0, own: ownCpuMs() - own0, redis: redisNow - redis0 });
      timer = setInterval(() => void redisCpuMs(redis.client).then((ms) => (redisNow = ms), () => {}), SAMPLE_MS);
      let added;
      await addAndDrain(app, who, ids, 5, 600_000, () => (added = sample()));
      clearInterval(timer);
      redisNow = await redisCpuMs(redis.client);
      const end = sample();
      return { added, end };
    } finally {
      clearInterval(timer);
      await worker.stop();
      await app.close();
      await dropPrefix(redis.client, prefix);
    }
  };

  const cores = (cpuMs, ms) => (ms > 0 ? cpuMs / ms : 0);
  const phases = ({ added, end }) => {
    const a = added;
    const restMs = end.ms - added.ms;
    return {
      addMs: added.ms,
      jobsWhileAdding: a.jobs,
      addCores: { worker: cores(a.worker, a.ms), own: cores(a.own, a.ms), redis: cores(a.redis, a.ms) },
      restJobsPerSecond: ((COUNT - a.jobs) / restMs) * 1000,
      restCores: { worker: cores(end.worker - a.worker, end.ms - a.ms), own: cores(end.own - a.own, end.ms - a.ms), redis: cores(end.redis - a.redis, end.ms - a.ms) },
      jobsPerSecond: (COUNT / end.ms) * 1000,
    };
  };
  const f2 = (n) => n.toFixed(2);
  const line = (p) =>
    `${Math.round(p.jobsPerSecond)} jobs/s in all | adding ${Math.round(p.addMs)} ms, ${p.jobsWhileAdding} jobs fetched meanwhile, cores worker ${f2(p.addCores.worker)} this process ${f2(p.addCores.own)} Redis ${f2(p.addCores.redis)}` +
    ` | after: ${Math.round(p.restJobsPerSecond)} jobs/s, cores worker ${f2(p.restCores.worker)} this process ${f2(p.restCores.own)} Redis ${f2(p.restCores.redis)}`;

  try {
    api = await startSmallApi(COUNT + warm);
    const results = new Map(contenders.map((c) => [c.arg, []]));
    // One unmeasured run of each first: JIT and allocator warm-up in this process (it runs every producer).
    for (let rep = -1; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        const p = phases(await run(c));
        if (rep < 0) continue;
        results.get(c.arg).push(p);
        process.stdout.write(`rep ${rep + 1}/${REPS} ${c.arg.padEnd(4)} ${line(p)}\n`);
      }
    }
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    process.stdout.write(`\nmedians of ${REPS} runs of ${COUNT} jobs each:\n`);
    for (const [arg, ps] of results) {
      const m = (f) => med(ps.map(f));
      process.stdout.write(
        `${arg.padEnd(4)} ${Math.round(m((p) => p.jobsPerSecond))} jobs/s | adding ${Math.round(m((p) => p.addMs))} ms, ${m((p) => p.jobsWhileAdding)} jobs meanwhile, cores worker ${f2(m((p) => p.addCores.worker))} this process ${f2(m((p) => p.addCores.own))} Redis ${f2(m((p) => p.addCores.redis))}` +
          ` | after: ${Math.round(m((p) => p.restJobsPerSecond))} jobs/s, cores worker ${f2(m((p) => p.restCores.worker))} this process ${f2(m((p) => p.restCores.own))} Redis ${f2(m((p) => p.restCores.redis))}\n`,
      );
    }
  } finally {
    await api?.close();
    await redis.stop();
  }
  process.exit(0);
})().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
