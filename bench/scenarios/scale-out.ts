/**
 * Scenario 3, scale-out: latency-bound work (200 ms per request, 10 jobs at once per process)
 * with 1, 2 and 4 worker processes. Each process count has its own prefix and its own workers,
 * all started up front, so batches for the three counts can be interleaved run by run.
 */
import { startSimulator } from '../../src/simulator/server';
import { openApp, runBatch, warmApi, type BenchApp } from '../lib/app';
import type { Scenario, ScenarioContext } from '../lib/context';
import { benchEnv, dropPrefix, freshPrefix } from '../lib/infra';
import { startWorker, type WorkerProcess } from '../lib/processes';
import type { Check, ScenarioReport } from '../lib/report';
import { fmt, med, pairedRatio, sample } from '../lib/stats';

const LATENCY_MS = 200;
const CONCURRENCY = 10;
const PROCESS_COUNTS = [1, 2, 4] as const;

export const scaleOut: Scenario = {
  key: 'scale-out',
  title: '3. Scale-out',
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const t0 = performance.now();
    const jobs = ctx.opts.quick ? 200 : 400;
    const reps = ctx.opts.quick ? 1 : 3;
    const sim = await startSimulator({ latencyMs: LATENCY_MS, dataDir: ctx.opts.dataDir });
    const workers: WorkerProcess[] = [];
    const apps: BenchApp[] = [];
    const prefixes: string[] = [];
    try {
      const ids = Array.from({ length: jobs }, (_, i) => i + 1);
      await warmApi(sim.url, ids, 64);
      const setups: { processes: number; app: BenchApp; rates: number[] }[] = [];
      for (const processes of PROCESS_COUNTS) {
        const prefix = freshPrefix(`scale${processes}`);
        prefixes.push(prefix);
        const env = benchEnv(ctx.redis.url, sim.url, prefix);
        const started = await Promise.all(
          Array.from({ length: processes }, () => startWorker({ env: { ...env, LOG_LEVEL: 'info' }, concurrency: CONCURRENCY })),
        );
        workers.push(...started);
        const app = await openApp(env);
        apps.push(app);
        setups.push({ processes, app, rates: [] });
      }
      // One unmeasured batch per setup: connection pools and JIT.
      for (const s of setups) await runBatch(s.app, ids.slice(0, 50), { refresh: true, timeoutMs: 120_000 });
      for (let rep = 0; rep < reps; rep++) {
        for (let i = 0; i < setups.length; i++) {
          const s = setups[(rep + i) % setups.length]!;
          const run = await runBatch(s.app, ids, { refresh: true, timeoutMs: 300_000 });
          if (run.failed) throw new Error(`${run.failed} jobs failed with ${s.processes} processes`);
          s.rates.push((jobs / run.ms) * 1000);
        }
        ctx.log(`  rep ${rep + 1}/${reps}: ${setups.map((s) => `${s.processes} proc ${fmt(s.rates.at(-1)!)}/s`).join(', ')}`);
      }
      const [one, two, four] = setups as [(typeof setups)[0], (typeof setups)[0], (typeof setups)[0]];
      const ideal = (CONCURRENCY * 1000) / LATENCY_MS;
      const checks: Check[] = [
        {
          label: '2 worker processes vs 1 (throughput)',
          ours: sample(two.rates, 'jobs/s'),
          baselineName: '1 process',
          baseline: sample(one.rates, 'jobs/s'),
          ratio: pairedRatio(two.rates, one.rates),
          ratioMeaning: 'throughput with 2 / with 1',
          target: '≥ 1.9x',
          met: pairedRatio(two.rates, one.rates) >= 1.9,
        },
        {
          label: '4 worker processes vs 1 (throughput)',
          ours: sample(four.rates, 'jobs/s'),
          baselineName: '1 process',
          baseline: sample(one.rates, 'jobs/s'),
          ratio: pairedRatio(four.rates, one.rates),
          ratioMeaning: 'throughput with 4 / with 1',
          target: 'info (ideal 4x)',
          met: null,
        },
      ];
      return {
        key: this.key,
        title: this.title,
        what:
          'Whether adding worker processes adds throughput when the work waits on the API. Each run is one batch of ' +
          `${jobs} ids enqueued with pokequeue's enqueueBatch from the bench process while the workers wait, timed until the batch's counters say every job finished.`,
        settings: [
          ['jobs', `${jobs} ids (1–${jobs}), refresh, realistic ${ctx.opts.dataDir ? 'real' : 'synthetic'} payloads`],
          ['API latency', `${LATENCY_MS} ms, no jitter`],
          ['workers', `1, 2 and 4 processes of \`pokequeue worker --concurrency ${CONCURRENCY}\`, RATE_LIMIT_PER_SECOND=0`],
          ['ideal', `${fmt(ideal)} jobs/s per process (${CONCURRENCY} slots / ${LATENCY_MS} ms)`],
          ['runs', `${reps} per process count, order rotating, after one unmeasured 50-job batch each`],
        ],
        checks,
        tables: [
          {
            title: 'Throughput by process count (medians)',
            header: ['processes', 'jobs/s', 'vs 1 process', 'of ideal'],
            rows: setups.map((s) => [
              String(s.processes),
              fmt(med(sample(s.rates, ''))),
              `${pairedRatio(s.rates, one.rates).toFixed(2)}x`,
              `${((med(sample(s.rates, '')) / (ideal * s.processes)) * 100).toFixed(0)}%`,
            ]),
          },
        ],
        notes: [],
        tookMs: performance.now() - t0,
      };
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      for (const app of apps) await app.close();
      for (const p of prefixes) await dropPrefix(ctx.redis.client, p);
      await sim.close();
    }
  },
};
