/**
 * Scenario 7, cost per job against the peers a user would pick instead, on one Redis: the same
 * 20,000 small jobs added and processed, one worker process at concurrency 100, by
 * - pokequeue (enqueueBatch, then `pokequeue worker`: batch counting, statistics, cache check),
 * - the hand-rolled BullMQ + undici + ioredis worker (bench/baselines/hand-rolled.ts: one HSET per job),
 * - bare BullMQ: addBulk with pokequeue's job options and a Worker whose processor does nothing.
 * Each run starts with its worker up and idle and ends when the queue is drained (and, for
 * pokequeue, its batch finished); Redis CPU (INFO cpu) and the worker's CPU (/proc) are charged
 * to the jobs, adding included. Every machine's workers share one Redis, so its CPU per job is the
 * fleet's ceiling.
 */
import { addAndDrain, contenderWorker, type Contender } from '../lib/contenders';
import { openApp } from '../lib/app';
import type { Scenario, ScenarioContext } from '../lib/context';
import { benchEnv, dropPrefix, freshPrefix, ownCpuMs, redisCpuMs, sleep } from '../lib/infra';
import { procCpuMs, startWorker, type WorkerProcess } from '../lib/processes';
import type { Check, ScenarioReport } from '../lib/report';
import { startSmallApi, type SmallApi } from '../lib/small-api';
import { fmt, med, pairedRatio, sample } from '../lib/stats';

const CONCURRENCY = 100;

interface Run {
  jobsPerSecond: number;
  /** µs per job. */
  redisUs: number;
  workerUs: number;
  /** The bench process: the API server, the producer and the drain polling. */
  benchUs: number;
}

export const peers: Scenario = {
  key: 'peers',
  title: '7. Cost per job against the peers (Redis CPU, throughput)',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const count = ctx.opts.quick ? 5000 : 20_000;
    const reps = ctx.opts.quick ? 2 : 5;
    const api = await startSmallApi(count);
    try {
      const runs: Record<Contender, Run[]> = { ours: [], 'hand-rolled': [], bullmq: [] };
      const order: Contender[] = ['ours', 'hand-rolled', 'bullmq'];
      // Unmeasured: JIT, Redis and allocator warm-up. Each contender once, since the bench
      // process runs each one's producer (enqueueBatch or addBulk) and would otherwise compile
      // pokequeue's in its first measured run only.
      for (const who of order) await runOne(ctx, api, count, who);
      for (let rep = 0; rep < reps; rep++) {
        for (let i = 0; i < order.length; i++) {
          const who = order[(rep + i) % order.length]!;
          runs[who].push(await runOne(ctx, api, count, who));
        }
        const line = (who: Contender) => {
          const r = runs[who].at(-1)!;
          return `${fmt(r.jobsPerSecond)}/s, CPU µs/job Redis ${fmt(r.redisUs, 1)} worker ${fmt(r.workerUs, 0)} bench ${fmt(r.benchUs, 0)}`;
        };
        ctx.log(`  rep ${rep + 1}/${reps}: ours ${line('ours')}; hand-rolled ${line('hand-rolled')}; bare BullMQ ${line('bullmq')}`);
      }
      const of = (who: Contender, k: keyof Run) => runs[who].map((r) => r[k]);
      const redisRatio = pairedRatio(of('ours', 'redisUs'), of('bullmq', 'redisUs'));
      const throughputRatio = pairedRatio(of('ours', 'jobsPerSecond'), of('hand-rolled', 'jobsPerSecond'));
      const checks: Check[] = [
        {
          label: `Redis CPU per job (add + process), ${fmt(count)} jobs, vs bare BullMQ with the same job options`,
          ours: sample(of('ours', 'redisUs'), 'µs'),
          baselineName: 'bare BullMQ (addBulk + no-op Worker)',
          baseline: sample(of('bullmq', 'redisUs'), 'µs'),
          ratio: redisRatio,
          ratioMeaning: 'our Redis CPU per job / bare BullMQ\'s',
          target: '≤ 1.25x',
          met: redisRatio <= 1.25,
          digits: 1,
        },
        {
          label: `Redis CPU per job vs the hand-rolled BullMQ + undici worker`,
          ours: sample(of('ours', 'redisUs'), 'µs'),
          baselineName: 'hand-rolled worker',
          baseline: sample(of('hand-rolled', 'redisUs'), 'µs'),
          ratio: pairedRatio(of('ours', 'redisUs'), of('hand-rolled', 'redisUs')),
          ratioMeaning: 'ours / hand-rolled',
          target: 'info',
          met: null,
          digits: 1,
        },
        {
          label: `end-to-end throughput, ${fmt(count)} jobs, 1 worker process at concurrency ${CONCURRENCY}`,
          ours: sample(of('ours', 'jobsPerSecond'), 'jobs/s'),
          baselineName: 'hand-rolled worker',
          baseline: sample(of('hand-rolled', 'jobsPerSecond'), 'jobs/s'),
          ratio: throughputRatio,
          ratioMeaning: 'our throughput / hand-rolled throughput',
          target: '≥ 1.0x',
          met: throughputRatio >= 1.0,
        },
      ];
      const row = (name: string, who: Contender, what: string) => [
        name, fmt(med(sample(of(who, 'jobsPerSecond'), ''))), fmt(med(sample(of(who, 'redisUs'), '')), 1), fmt(med(sample(of(who, 'workerUs'), '')), 1), fmt(med(sample(of(who, 'benchUs'), '')), 1), what,
      ];
      return {
        key: this.key,
        title: this.title,
        what:
          'What each job costs the Redis every worker shares, and how fast one worker process goes, against the two peers a user would pick instead. ' +
          `The API is the bench's small loopback server (bench/lib/small-api.ts: ~${fmt(api.payloadBytes.plain / 1024, 1)} KB payloads of the real shape, ${fmt(api.payloadBytes.gzipped)} B gzipped, no latency), so the queue's own cost shows. ` +
          'Each run: a fresh prefix, the worker process started and idle, then the clock and the CPU meters start, the jobs are added from the bench process, and everything stops when the queue is drained (pokequeue: and its batch finished).',
        settings: [
          ['jobs', `${fmt(count)} distinct ids per run`],
          ['pokequeue', `enqueueBatch (the CLI's producer) + \`pokequeue worker --concurrency ${CONCURRENCY}\`, RATE_LIMIT_PER_SECOND=0, defaults otherwise`],
          ['hand-rolled', `bench/baselines/hand-rolled.ts: its jobs (jobId pokemon-<id>, 5 attempts, exponential backoff, keep 1000 completed) added with addBulk from the bench process + its Worker at concurrency ${CONCURRENCY} that fetches, gunzips, parses and HSETs 4 fields`],
          ['bare BullMQ', `addBulk from the bench process with pokequeue's job options (5 attempts, exponential backoff, keep 1000 completed and 10000 failed) + bench/baselines/noop-worker.ts at concurrency ${CONCURRENCY}`],
          ['runs', `${reps} per contender, order rotating, after one unmeasured warm-up run of each`],
        ],
        checks,
        tables: [
          {
            title: 'Medians per contender (CPU in µs per job: redis-server from INFO cpu, the worker process from /proc/<pid>/stat, the bench process from process.cpuUsage)',
            header: ['contender', 'jobs/s', 'Redis CPU µs/job', 'worker CPU µs/job', 'bench process CPU µs/job (API, producer, polling)', 'what it does per job'],
            rows: [
              row('pokequeue', 'ours', 'BullMQ + HTTP GET, gunzip, parse, normalize, group commit (records, outcome bits, batch counters) + 1 s statistics flush (with BullMQ\'s job metrics)'),
              row('hand-rolled worker', 'hand-rolled', 'BullMQ + HTTP GET, gunzip, parse, one HSET'),
              row('bare BullMQ', 'bullmq', 'BullMQ only: add, fetch + lock, complete'),
            ],
          },
        ],
        notes: [],
        tookMs: performance.now() - t0,
      };
    } finally {
      await api.close();
    }
  },
};

async function runOne(ctx: ScenarioContext, api: SmallApi, count: number, who: Contender): Promise<Run> {
  const prefix = freshPrefix(`peers-${who}`);
  const env = benchEnv(ctx.redis.url, api.url, prefix);
  const app = await openApp(env);
  let worker: WorkerProcess | undefined;
  try {
    await app.queue.waitUntilReady();
    worker = await startWorker(contenderWorker(who, env, CONCURRENCY));
    await sleep(300); // settled into its blocking wait
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    const redis0 = await redisCpuMs(ctx.redis.client);
    const cpu0 = procCpuMs(worker.pid);
    const bench0 = ownCpuMs();
    const started = performance.now();
    await addAndDrain(app, who, ids, 5);
    const ms = performance.now() - started;
    const cpu1 = procCpuMs(worker.pid);
    const bench1 = ownCpuMs();
    const redis1 = await redisCpuMs(ctx.redis.client);
    return {
      jobsPerSecond: (count / ms) * 1000,
      redisUs: ((redis1 - redis0) * 1000) / count,
      workerUs: cpu0 === null || cpu1 === null ? NaN : ((cpu1 - cpu0) * 1000) / count,
      benchUs: ((bench1 - bench0) * 1000) / count,
    };
  } finally {
    await worker?.stop();
    await app.close();
    await dropPrefix(ctx.redis.client, prefix);
  }
}
