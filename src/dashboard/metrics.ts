import { collectDefaultMetrics, Counter, Gauge, type Metric, Registry } from 'prom-client';
import { liveWorkers } from '../queue/worker-heartbeat';
import type { PokemonQueue } from '../queue/pokemon-queue';
import type { RedisClient } from '../redis/connection';
import { keysFor } from '../redis/keys';
import { DURATION_BUCKETS_MS, PHASES } from '../stats/buckets';
import { JOB_STATES } from '../stats/queue-status';
import type { RecordStore } from '../store/record-store';

export interface MetricsDeps {
  redis: RedisClient;
  queue: PokemonQueue;
  store: RecordStore;
  prefix: string;
}

/** Everything one scrape reports, read from Redis once and shared by every metric. */
interface ClusterSnapshot {
  totals: Record<string, string>;
  counts: Record<string, number>;
  workers: number;
  stored: number;
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
 *   workers have already counted theirs into buckets in Redis (non-cumulative). A small custom
 *   metric ({@link RedisBucketHistogram}) reports those buckets made cumulative, `le` in seconds,
 *   plus `_sum` and `_count`, and the registry formats it as `TYPE histogram`.
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
      this.inc(num(s.totals.completed));
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
      for (const [field, value] of Object.entries(s.totals)) {
        if (field.startsWith('failed:')) this.inc({ reason: field.slice('failed:'.length) || 'unknown' }, num(value));
      }
    },
  });

  new Counter({
    name: 'pokequeue_job_retries_total',
    help: 'Failed attempts that were tried again, since the store began.',
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      this.inc(num(s.totals.retries));
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
      let cumulative = 0;
      DURATION_BUCKETS_MS.forEach((ms, i) => {
        cumulative += num(totals[`h:${phase}:${i}`]);
        values.push({ metricName: `${this.name}_bucket`, labels: { le: ms / 1000, phase }, value: cumulative });
      });
      cumulative += num(totals[`h:${phase}:${DURATION_BUCKETS_MS.length}`]);
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', phase }, value: cumulative });
      values.push({ metricName: `${this.name}_sum`, labels: { phase }, value: num(totals[`sum:${phase}`]) / 1000 });
      values.push({ metricName: `${this.name}_count`, labels: { phase }, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing kept here to reset: the counts live in Redis. */
  reset(): void {}
}

async function readSnapshot(deps: MetricsDeps): Promise<ClusterSnapshot> {
  const [totals, counts, workers, stored] = await Promise.all([
    deps.redis.hgetall(keysFor(deps.prefix).totals),
    deps.queue.getJobCounts(...JOB_STATES),
    liveWorkers(deps.redis, deps.prefix),
    deps.store.count(),
  ]);
  return { totals, counts, workers: new Set(workers.map((w) => `${w.host}:${w.pid}`)).size, stored };
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

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));
