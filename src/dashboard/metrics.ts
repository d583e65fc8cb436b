import { collectDefaultMetrics, Counter, Gauge, type Metric, Registry } from 'prom-client';
import type { BatchView } from '../batch/batch';
import type { BatchStore } from '../batch/batch-store';
import type { PokemonQueue } from '../queue/pokemon-queue';
import { JOB_STATES, readQueueStatus } from '../queue/queue-status';
import type { RedisClient } from '../redis/connection';
import { PHASES } from '../redis/schema';
import { DURATION_BUCKETS_MS } from '../stats/buckets';
import { readTotals, type FleetTotals } from '../stats/reader';
import type { RecordStore } from '../store/record-store';

export interface MetricsDeps {
  redis: RedisClient;
  queue: PokemonQueue;
  store: RecordStore;
  batches: BatchStore;
  prefix: string;
}

/** Everything one scrape reports, read from Redis once and shared by every metric. */
interface ClusterSnapshot {
  totals: FleetTotals;
  counts: Record<string, number>;
  workers: number;
  stored: number;
  batchesInProgress: BatchView[];
}

/**
 * The `/metrics` registry. Every pokequeue_* value is read from Redis at scrape time, where all
 * workers on all machines record what they do, so one scrape of any dashboard describes the whole
 * cluster; nothing is counted in this process. The process defaults (`process_*`, `nodejs_*`)
 * describe the dashboard process itself.
 *
 * How the Redis values map onto prom-client:
 * - Counters (`_total`): a real prom-client `Counter` whose `collect()` replaces its value with the
 *   Redis count (`reset()`, then `inc(value)`). The exposition says `TYPE counter`, so `rate()` and
 *   `increase()` work; the value only ever grows because the Redis counter does.
 * - Gauges: a `Gauge` whose `collect()` calls `set()`, as prom-client documents.
 * - The duration histogram: prom-client's `Histogram` can only `observe()` single values, and the
 *   workers have already counted theirs into fine buckets in Redis (stats/histogram.ts), which
 *   add up exactly into these coarse ones. A small custom metric ({@link RedisBucketHistogram})
 *   reports them cumulative, `le` in seconds, plus `_sum` and `_count`, and the registry formats
 *   it as `TYPE histogram`. Workers flush their counts every second, so a scrape lags by up to that.
 */
export function createMetricsRegistry(deps: MetricsDeps): Registry {
  const registry = new Registry();
  const snapshot = singleFlight(() => readSnapshot(deps));
  const registers = [registry];

  new Counter({
    name: 'pokequeue_jobs_completed_total',
    help: 'Jobs completed (record stored or already there), by all workers, since the store began.',
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      this.inc(s.totals.completed);
    },
  });

  new Counter({
    name: 'pokequeue_jobs_failed_total',
    help: 'Jobs failed for good (attempts used up, or a failure never retried), by reason, since the store began.',
    labelNames: ['reason'] as const,
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const [reason, n] of Object.entries(s.totals.failedByReason)) this.inc({ reason }, n);
    },
  });

  new Counter({
    name: 'pokequeue_job_retries_total',
    help: 'Failed attempts that were tried again, since the store began.',
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      this.inc(s.totals.retries);
    },
  });

  // registerMetric's typings list prom-client's own classes; the registry itself needs only get().
  registry.registerMetric(new RedisBucketHistogram(snapshot) as unknown as Metric);

  new Gauge({
    name: 'pokequeue_queue_jobs',
    help: 'Jobs in the queue by state (completed and failed: those kept for inspection).',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const s = await snapshot();
      for (const state of JOB_STATES) this.set({ state }, s.counts[state] ?? 0);
    },
  });

  new Gauge({
    name: 'pokequeue_workers',
    help: 'Live worker processes (a heartbeat in the last 10 s), on all machines.',
    registers,
    async collect() {
      this.set((await snapshot()).workers);
    },
  });

  new Gauge({
    name: 'pokequeue_batch_progress_ratio',
    help: 'Share of its jobs (own and adopted) each batch in progress has finished, 0 to 1: the same figure as enqueue --wait and /stats.',
    labelNames: ['batch'] as const,
    registers,
    async collect() {
      this.reset();
      for (const b of (await snapshot()).batchesInProgress) this.set({ batch: b.batchId }, b.progress);
    },
  });

  new Gauge({
    name: 'pokequeue_batch_eta_seconds',
    help: 'Seconds each batch in progress needs at its average rate so far (absent before it has one).',
    labelNames: ['batch'] as const,
    registers,
    async collect() {
      this.reset();
      for (const b of (await snapshot()).batchesInProgress) if (b.etaSeconds !== null) this.set({ batch: b.batchId }, b.etaSeconds);
    },
  });

  new Gauge({
    name: 'pokequeue_records_stored',
    help: 'Pokémon records in the store.',
    registers,
    async collect() {
      this.set((await snapshot()).stored);
    },
  });

  collectDefaultMetrics({ register: registry });
  return registry;
}

type SnapshotSource = () => Promise<ClusterSnapshot>;

/**
 * A histogram whose observations were bucketed by the workers, in Redis: it reports those counts
 * through the `get()` contract every prom-client metric fulfils (name, help, type, values with
 * `metricName` for `_bucket`, `_sum`, `_count`), and the registry formats it like its own. Not a
 * subclass of `Histogram`, whose exposition path reads only what `observe()` recorded in-process.
 */
class RedisBucketHistogram {
  readonly name = 'pokequeue_job_duration_seconds';
  readonly help =
    'Time per finished job by phase: wait (enqueued to started), fetch (request to parsed body; jobs answered from the store have none), total (enqueued to finished).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly snapshot: SnapshotSource) {}

  async get() {
    const { totals } = await this.snapshot();
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const phase of PHASES) {
      const h = totals.histograms[phase];
      const counts = h.countsWithin(DURATION_BUCKETS_MS);
      let cumulative = 0;
      DURATION_BUCKETS_MS.forEach((ms, i) => {
        cumulative += counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: ms / 1000, phase }, value: cumulative });
      });
      cumulative += counts[DURATION_BUCKETS_MS.length]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', phase }, value: cumulative });
      values.push({ metricName: `${this.name}_sum`, labels: { phase }, value: h.sumMs / 1000 });
      values.push({ metricName: `${this.name}_count`, labels: { phase }, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing kept here to reset: the counts live in Redis. */
  reset(): void {}
}

async function readSnapshot(deps: MetricsDeps): Promise<ClusterSnapshot> {
  const now = Date.now();
  const [totals, status] = await Promise.all([readTotals(deps.redis, deps.prefix), readQueueStatus(deps, now)]);
  return { totals, counts: status.counts, workers: status.workers, stored: status.stored, batchesInProgress: status.batchesInProgress };
}

/**
 * One Redis read per scrape: the registry collects every metric at once, and all of them share
 * the read in flight. The next scrape starts a fresh one.
 */
function singleFlight<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

