/**
 * Scenario 2, queue overhead at volume: 20,000 distinct ids with small payloads and no latency,
 * so the queue's own cost shows. One worker process at concurrency 100 against the same
 * fetch/decode/parse/normalize/store work in one process with a pool of 100 promises and no
 * queue; plus the bare BullMQ ceiling (a Worker with an empty processor) on the same Redis.
 *
 * Every contender starts from jobs already in Redis (the queue paused while they are added) and
 * a process already running; the clock starts at `resume` and stops when all jobs are done.
 */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { IdSet } from '../../src/ids/id-set';
import { enqueueBatch } from '../../src/queue/producer';
import { addRaw, openApp, waitForBatchDone, type BenchApp } from '../lib/app';
import { PROBE, type Scenario, type ScenarioContext } from '../lib/context';
import { profileTables, summarizeProfile } from '../lib/cpuprofile';
import { benchEnv, dropPrefix, freshPrefix, ownCpuMs, probeSnapshot, redisCpuMs, sleep, waitUntil } from '../lib/infra';
import { DIST_BENCH, lastJsonLine, procCpuMs, runNode, startWorker, type WorkerProcess } from '../lib/processes';
import type { Check, ScenarioReport, Table } from '../lib/report';
import { startSmallApi, type SmallApi } from '../lib/small-api';
import { fmt, med, pairedRatio, sample } from '../lib/stats';
import { WATCHED } from './tutorial';

const CONCURRENCY = 100;

export const queueOverhead: Scenario = {
  key: 'queue-overhead',
  title: '2. Queue overhead at volume',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const count = ctx.opts.quick ? 5000 : 20_000;
    const reps = ctx.opts.quick ? 1 : 3;
    const api = await startSmallApi(count);
    const notes: string[] = [];
    const tables: Table[] = [];
    try {
      const ids = Array.from({ length: count }, (_, i) => i + 1);
      const costs = { ours: [] as RunCost[], pool: [] as RunCost[], noop: [] as RunCost[] };
      const eldP99: number[] = [];
      const eldMax: number[] = [];

      const contenders: { name: string; run: () => Promise<void> }[] = [
        { name: 'ours', run: async () => void costs.ours.push(await runOurs(ctx, api, ids, { eldP99, eldMax })) },
        { name: 'pool', run: async () => void costs.pool.push(await runPool(ctx, api, count)) },
        { name: 'noop', run: async () => void costs.noop.push(await runNoop(ctx, api, ids, [])) },
      ];
      const rates = (list: RunCost[]) => list.map((c) => c.rate);
      for (let rep = 0; rep < reps; rep++) {
        for (let i = 0; i < contenders.length; i++) await contenders[(rep + i) % contenders.length]!.run();
        const last = (list: RunCost[]) => fmt(list.at(-1)!.rate);
        ctx.log(`  rep ${rep + 1}/${reps}: ours ${last(costs.ours)}/s, pool ${last(costs.pool)}/s, noop ${last(costs.noop)}/s`);
      }
      // What BullMQ's limiter and its per-job metrics cost the no-op Worker, each alone (a full run
      // only): why pokequeue's worker sets a limiter only with a rate limit, and writes BullMQ's
      // metrics at its statistics flush rather than through the `metrics` option.
      const single = ctx.opts.quick
        ? []
        : [
            { name: 'no-op Worker + limiter only', cost: await runNoop(ctx, api, ids, ['--limiter']) },
            { name: 'no-op Worker + metrics only', cost: await runNoop(ctx, api, ids, ['--metrics']) },
          ];
      const ours = rates(costs.ours);
      const pool = rates(costs.pool);
      const noop = rates(costs.noop);
      if (ctx.opts.profile) await profileOurs(ctx, api, ids);

      const ratio = pairedRatio(ours, pool);
      const checks: Check[] = [
        {
          label: `throughput, ${fmt(count)} small jobs, 1 worker process at concurrency ${CONCURRENCY} vs a pool of ${CONCURRENCY} promises without a queue`,
          ours: sample(ours, 'jobs/s'),
          baselineName: 'promise pool, no queue',
          baseline: sample(pool, 'jobs/s'),
          ratio,
          ratioMeaning: 'our throughput / baseline throughput',
          target: '≥ 0.8x',
          met: ratio >= 0.8,
        },
        {
          label: 'bare BullMQ ceiling: a Worker with an empty processor, same jobs, same concurrency',
          ours: sample(ours, 'jobs/s'),
          baselineName: 'no-op Worker',
          baseline: sample(noop, 'jobs/s'),
          ratio: pairedRatio(ours, noop),
          ratioMeaning: 'our throughput / no-op throughput',
          target: 'info',
          met: null,
        },
      ];
      const cpu = (list: RunCost[], key: 'clientCpuMs' | 'redisCpuMs' | 'apiCpuMs') => fmt(med(sample(list.map((c) => c[key] * 1000), '')));
      const row = (name: string, list: RunCost[], what: string) => [name, fmt(med(sample(rates(list), ''))), cpu(list, 'clientCpuMs'), cpu(list, 'redisCpuMs'), cpu(list, 'apiCpuMs'), what];
      tables.push({
        title: 'Throughput and CPU cost per job (medians; CPU in µs per job, from /proc/<pid>/stat, Redis INFO cpu and process.cpuUsage)',
        header: ['contender', 'jobs/s', 'CPU µs/job: worker or pool process', 'redis-server', 'API server (bench process)', 'what it does per job'],
        rows: [
          row('pokequeue worker', costs.ours, 'BullMQ fetch + lock, HTTP GET, gunzip, JSON.parse, normalize, group commit (records HSET + commit-group script), BullMQ complete'),
          row('promise pool, no queue', costs.pool, 'HTTP GET, gunzip, JSON.parse, normalize, MULTI store'),
          row('no-op BullMQ Worker', costs.noop, 'BullMQ fetch + lock, complete'),
          ...single.map((v) => row(v.name, [v.cost], 'one run')),
        ],
      });
      if (eldP99.length) {
        notes.push(`Worker event-loop delay during the measured runs: p99 ${fmt(med(sample(eldP99, 'ms')), 1)} ms, max ${fmt(med(sample(eldMax, 'ms')), 1)} ms (medians over runs).`);
      }
      for (const v of single) {
        const of = (list: RunCost[], key: 'clientCpuMs' | 'redisCpuMs') => med(sample(list.map((c) => c[key]), ''));
        notes.push(
          `${v.name}: ${fmt(v.cost.rate / med(sample(noop, '')), 2)}x the bare no-op's median throughput, ${fmt(v.cost.clientCpuMs / of(costs.noop, 'clientCpuMs'), 2)}x its worker CPU and ${fmt(v.cost.redisCpuMs / of(costs.noop, 'redisCpuMs'), 2)}x its Redis CPU per job (one run). pokequeue's worker pays neither with the rate limit off: no limiter, and BullMQ's metrics written once a second by its statistics flush.`,
        );
      }
      return {
        key: this.key,
        title: this.title,
        what:
          'What the queue costs per job when the work itself is cheap. The API is a tiny loopback server in the bench process (bench/lib/small-api.ts) answering any id with a ~' +
          `${fmt(api.payloadBytes.plain / 1024, 1)} KB payload of the real shape (${fmt(api.payloadBytes.gzipped)} bytes gzipped), because the simulator only serves the 1351 real ids with ~99 KB payloads. ` +
          'Ours: one `pokequeue worker` process with every job already queued (queue paused while adding, clock from resume to the last job done). ' +
          'Baseline: pokequeue\'s own PokeApiClient + normalizePokemon + RecordStore.put in one process with a fixed pool of promises and no queue (bench/baselines/pool-direct.ts), timed from first fetch to last store.',
        settings: [
          ['jobs', `${fmt(count)} distinct ids (1–${count}), refresh (every job fetches)`],
          ['payload', `~${fmt(api.payloadBytes.plain)} B JSON, ${fmt(api.payloadBytes.gzipped)} B gzipped, no latency`],
          ['worker', `1 process, \`pokequeue worker --concurrency ${CONCURRENCY}\`, RATE_LIMIT_PER_SECOND=0, defaults otherwise (KEEP_COMPLETED_JOBS=1000)`],
          ['baseline', `1 process, pool of ${CONCURRENCY} promises, PokeApiClient with ${CONCURRENCY} connections`],
          ['no-op ceiling', `bench/baselines/noop-worker.ts, concurrency ${CONCURRENCY}, jobs added with pokequeue's job options`],
          ['runs', `${reps} per contender, order rotating`],
        ],
        checks,
        tables,
        notes,
        tookMs: performance.now() - t0,
      };
    } finally {
      await api.close();
    }
  },
};

/** One run: its throughput and the CPU it cost, per job, in each process involved. */
interface RunCost {
  rate: number;
  /** The process doing the jobs (worker, pool). */
  clientCpuMs: number;
  redisCpuMs: number;
  /** The small API server, which lives in the bench process. */
  apiCpuMs: number;
}

interface EldSink {
  eldP99: number[];
  eldMax: number[];
}

/** Starts the CPU meters; the returned function reads them, per job. */
async function cpuMeter(ctx: ScenarioContext, jobs: number): Promise<(clientCpuMs: number | null, ms: number) => Promise<RunCost>> {
  const redis0 = await redisCpuMs(ctx.redis.client);
  const own0 = ownCpuMs();
  return async (clientCpuMs, ms) => ({
    rate: (jobs / ms) * 1000,
    clientCpuMs: clientCpuMs === null ? NaN : clientCpuMs / jobs,
    redisCpuMs: ((await redisCpuMs(ctx.redis.client)) - redis0) / jobs,
    // The bench process also polls Redis; that is a few ms per run, spread over thousands of jobs.
    apiCpuMs: (ownCpuMs() - own0) / jobs,
  });
}

/** Our worker: jobs enqueued by enqueueBatch while the queue is paused, then resumed and timed. */
async function runOurs(ctx: ScenarioContext, api: SmallApi, ids: number[], eld?: EldSink, profileOut?: string): Promise<RunCost> {
  const prefix = freshPrefix('overhead');
  const env = benchEnv(ctx.redis.url, api.url, prefix);
  const app = await openApp(env);
  const probeFile = resolve(ctx.opts.workDir, 'overhead-probe.json');
  let worker: WorkerProcess | undefined;
  try {
    await app.queue.pause();
    const result = await enqueueBatch(app, { ids: IdSet.of(ids), refresh: true, spec: 'bench' });
    worker = await startWorker({
      env: { ...env, LOG_LEVEL: 'info', BENCH_PROBE_OUT: probeFile, ...(profileOut ? { BENCH_PROFILE_OUT: profileOut } : {}) },
      concurrency: CONCURRENCY,
      nodeArgs: ['--require', PROBE],
    });
    await sleep(200); // let it settle into its blocking wait
    await probeSnapshot(worker.pid, probeFile);
    // Done when the queue is drained: the same test as for the no-op Worker. The batch counters
    // then prove every job was stored and counted.
    const { cost, started } = await measureDrain(ctx, app, worker.pid, ids.length);
    const run = await waitForBatchDone(app, result.batchId, started, 10_000, 20);
    if (run.failed || run.completed !== ids.length) throw new Error(`${run.completed} jobs completed, ${run.failed} failed, of ${ids.length}`);
    const snap = await probeSnapshot(worker.pid, probeFile);
    if (snap && eld) {
      eld.eldP99.push(snap.eld.p99);
      eld.eldMax.push(snap.eld.max);
    }
    return cost;
  } finally {
    await worker?.stop();
    await app.close();
    await dropPrefix(ctx.redis.client, prefix);
  }
}

/** The same work without a queue, in its own process; it reports its own elapsed time. */
async function runPool(ctx: ScenarioContext, api: SmallApi, count: number): Promise<RunCost> {
  const prefix = freshPrefix('overhead-pool');
  try {
    const meter = await cpuMeter(ctx, count);
    const r = await runNode(resolve(DIST_BENCH, 'baselines/pool-direct.js'), [String(count), String(CONCURRENCY)], benchEnv(ctx.redis.url, api.url, prefix), {
      timeoutMs: 600_000,
    });
    const out = lastJsonLine<{ done: number; failed: number; ms: number; cpuMs: number }>(r.stdout);
    if (out.done !== count) throw new Error(`pool baseline stored ${out.done} of ${count}`);
    return await meter(out.cpuMs, out.ms);
  } finally {
    await dropPrefix(ctx.redis.client, prefix);
  }
}

/** A no-op BullMQ Worker draining the same jobs (added with raw addBulk and our job options). */
async function runNoop(ctx: ScenarioContext, api: SmallApi, ids: number[], flags: string[]): Promise<RunCost> {
  const prefix = freshPrefix('overhead-noop');
  const env = benchEnv(ctx.redis.url, api.url, prefix);
  const app = await openApp(env);
  let worker: WorkerProcess | undefined;
  try {
    await app.queue.pause();
    await addRaw(app, ids, 'bench-noop');
    worker = await startWorker({
      env,
      concurrency: CONCURRENCY,
      script: resolve(DIST_BENCH, 'baselines/noop-worker.js'),
      args: [String(CONCURRENCY), ...flags],
      readyText: 'noop worker ready',
    });
    await sleep(200);
    return (await measureDrain(ctx, app, worker.pid, ids.length)).cost;
  } finally {
    await worker?.stop();
    await app.close();
    await dropPrefix(ctx.redis.client, prefix);
  }
}

/**
 * The measured window of a worker run: resume the paused queue, wait until it is drained, and
 * charge the elapsed time and the worker's CPU to `jobs` jobs.
 */
async function measureDrain(ctx: ScenarioContext, app: BenchApp, workerPid: number, jobs: number): Promise<{ cost: RunCost; started: number }> {
  const meter = await cpuMeter(ctx, jobs);
  const cpu0 = procCpuMs(workerPid);
  const started = performance.now();
  await app.queue.resume();
  await waitForDrain(app, 600_000);
  const ms = performance.now() - started;
  const cpu1 = procCpuMs(workerPid);
  return { cost: await meter(cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, ms), started };
}

/** Resolves once no job is waiting, active, delayed or prioritized. */
async function waitForDrain(app: BenchApp, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const c = await app.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(c).every((n) => n === 0);
    },
    timeoutMs,
    20,
    'the worker to drain the queue',
  );
}

/** One more run of ours with the worker profiled over exactly the measured window. */
async function profileOurs(ctx: ScenarioContext, api: SmallApi, ids: number[]): Promise<void> {
  const file = resolve(ctx.opts.workDir, 'overhead-worker.cpuprofile');
  rmSync(file, { force: true });
  const { rate } = await runOurs(ctx, api, ids, undefined, file);
  if (!existsSync(file)) return;
  const s = summarizeProfile(file, WATCHED);
  ctx.addProfile(profileTables(`worker, queue-overhead scenario (${fmt(ids.length)} small jobs, ${fmt(rate)} jobs/s while profiled)`, s, 15));
}
