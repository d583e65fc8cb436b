import type { LocalRedisServer } from '../src/redis/local-server';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { DURATION_BUCKETS_MS } from '../src/stats/buckets';
import { runCli, startDashboard, startWorker, type DashboardProcess, type WorkerProcess } from './helpers/processes';
import { until } from './helpers/until';
import { startTestRedis } from './helpers/redis';

const PREFIX = 'dash-metrics';

/** The value of one sample line, e.g. `pokequeue_workers` or `..._count{phase="total"}`. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics with two worker processes', () => {
  let redis: LocalRedisServer;
  let sim: RunningSimulator;
  let dashboard: DashboardProcess;
  const workers: WorkerProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    const r = await startTestRedis();
    redis = r.server;
    r.client.disconnect();
    // Some latency, so both workers are busy at once and each takes a share.
    sim = await startSimulator({ latencyMs: 40, jitterMs: 20 });
    env = { REDIS_URL: r.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: PREFIX, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '4' };
    // Workers say "worker ready" at info level, which startWorker waits for.
    const starting = [startWorker({ ...env, LOG_LEVEL: 'info' }), startWorker({ ...env, LOG_LEVEL: 'info' })];
    starting.forEach((s) => void s.then((w) => workers.push(w), () => undefined));
    const dashboardStarting = startDashboard(env);
    void dashboardStarting.then((d) => (dashboard = d), () => undefined);
    await Promise.all([...starting, dashboardStarting]);
  });

  afterAll(async () => {
    await dashboard?.stop();
    await Promise.all(workers.map((w) => w.stop()));
    await sim?.close();
    await redis?.stop();
  });

  it('should count a finished batch once, across both workers, from what they recorded in Redis', async () => {
    const before = await (await fetch(`${dashboard.url}/metrics`)).text();
    expect(sample(before, 'pokequeue_jobs_completed_total')).toBe(0);
    expect(sample(before, 'pokequeue_workers')).toBe(2);

    const run = await runCli(['enqueue', '1-30', '--wait'], env);
    expect(run.code).toBe(0);

    // Workers flush their fleet statistics every second: the counters catch up within that.
    let metrics = '';
    await until(async () => {
      const res = await fetch(`${dashboard.url}/metrics`);
      expect(res.status).toBe(200);
      metrics = await res.text();
      return sample(metrics, 'pokequeue_jobs_completed_total') === 30;
    }, 5000, 'the workers to flush their counts');
    expect(metrics).not.toMatch(/^pokequeue_jobs_failed_total\{/m);
    expect(sample(metrics, 'pokequeue_workers')).toBe(2);
    expect(sample(metrics, 'pokequeue_records_stored')).toBe(30);
    expect(sample(metrics, 'pokequeue_queue_jobs{state="completed"}')).toBe(30);
    expect(sample(metrics, 'pokequeue_queue_jobs{state="waiting"}')).toBe(0);

    for (const phase of ['wait', 'fetch', 'total']) {
      expect(sample(metrics, `pokequeue_job_duration_seconds_count{phase="${phase}"}`)).toBe(30);
      expect(sample(metrics, `pokequeue_job_duration_seconds_bucket{le="+Inf",phase="${phase}"}`)).toBe(30);
      // Cumulative: never decreasing from the smallest bucket up.
      const buckets = DURATION_BUCKETS_MS.map((ms) => sample(metrics, `pokequeue_job_duration_seconds_bucket{le="${ms / 1000}",phase="${phase}"}`)!);
      expect(buckets.every((n, i) => i === 0 || n >= buckets[i - 1]!)).toBe(true);
    }
    // The simulator waits at least 40 ms before answering: no fetch fits the 25 ms bucket, and
    // the sum (in seconds, not ms) is at least 30 × 0.04.
    expect(sample(metrics, 'pokequeue_job_duration_seconds_bucket{le="0.025",phase="fetch"}')).toBe(0);
    const fetchSum = sample(metrics, 'pokequeue_job_duration_seconds_sum{phase="fetch"}')!;
    expect(fetchSum).toBeGreaterThanOrEqual(30 * 0.04);
    expect(fetchSum).toBeLessThan(30 * 10);

    // bull-board's chart reads BullMQ's job metrics, which the workers write at their flush (not
    // BullMQ per job): the same 30, none failed, through bull-board's own API.
    type BullMetrics = { completed: { meta: { count: number }; data: number[] } | null; failed: { meta: { count: number } } | null };
    const chart = (await (await fetch(`${dashboard.url}/admin/queues/api/queues/pokemon/metrics`)).json()) as BullMetrics;
    expect(chart.completed?.meta.count).toBe(30);
    expect(chart.failed?.meta.count ?? 0).toBe(0);

    // Both processes did part of the work, and /api/stats says which (as their heartbeats, every 2 s, tell).
    type Stats = { workers: { live: number; list: { pid: number; jobsPerSecond: number }[] } };
    let stats: Stats | undefined;
    await until(async () => {
      stats = (await (await fetch(`${dashboard.url}/api/stats`)).json()) as Stats;
      return stats.workers.list.length === 2 && stats.workers.list.every((w) => w.jobsPerSecond > 0);
    }, 5000, 'both workers to report a rate');
    expect(stats!.workers.live).toBe(2);
    expect(stats!.workers.list.map((w) => w.pid).sort()).toEqual(workers.map((w) => w.child.pid!).sort());
  });

  it('should stop counting a worker once it has stopped', async () => {
    await workers[1]!.stop();
    const metrics = await (await fetch(`${dashboard.url}/metrics`)).text();
    expect(sample(metrics, 'pokequeue_workers')).toBe(1);
    expect(sample(metrics, 'pokequeue_jobs_completed_total')).toBe(30);
  });
});
