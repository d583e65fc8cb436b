import type { Redis } from 'ioredis';
import pino from 'pino';
import { parseConfig } from '../src/config/load';
import { createPokeApiClient, openContext, type AppContext } from '../src/cli/context';
import type { BatchSummary as BatchOutcome } from '../src/batch/batch';
import { BatchWatch, FinishedBatches } from '../src/batch/batch-watch';
import { FleetStatsRecorder } from '../src/stats/recorder';
import { startPokemonWorker, type RunningPokemonWorker } from '../src/queue/pokemon-worker';
import { enqueueBatch } from '../src/queue/producer';
import { createRedis } from '../src/redis/connection';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../src/simulator/server';
import { recordGuarantee } from './helpers/guarantees';
import { until } from './helpers/until';
import { startTestRedis, type TestRedis } from './helpers/redis';

/**
 * The API misbehaving in every way the fetch policy knows, against a real worker (in this
 * process: these are about HTTP outcomes, not process crashes) and a real Redis. The simulator
 * counts requests, so a retry storm fails the test.
 */
describe('when the API misbehaves', () => {
  let redis: TestRedis;
  const cleanups: (() => Promise<unknown>)[] = [];
  const log = pino({ level: 'silent' });
  let n = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await redis.stop();
  });

  async function runBatch(
    simOpts: SimulatorOptions,
    ids: number[],
    env: Record<string, string> = {},
    concurrency = 4,
  ): Promise<{ outcome: BatchOutcome; sim: RunningSimulator; ctx: AppContext }> {
    const sim = await startSimulator(simOpts);
    cleanups.push(() => sim.close());
    const prefix = `faults${++n}`;
    const config = parseConfig({
      REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0',
      JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100', HTTP_TIMEOUT_MS: '800', ...env,
    });
    const ctx = await openContext(config, log, { startup: 'fail-fast' });
    const connection = createRedis(config, { startup: 'wait', forWorker: true, log });
    const client = createPokeApiClient(config, { connections: concurrency });
    const stats = new FleetStatsRecorder(ctx.redis, prefix, log);
    const worker: RunningPokemonWorker = startPokemonWorker({ ...ctx, connection, client, stats, workerId: `test:${n}`, concurrency });
    const finished = new FinishedBatches(ctx.redis, ctx.batches.keys.batchFinishedChannel, log);
    cleanups.push(async () => {
      await worker.close(1000);
      finished.close();
      await client.close();
      connection.disconnect();
      await ctx.close();
    });
    const { batchId } = await enqueueBatch(ctx, { ids, refresh: false, spec: 'test' });
    const outcome = await new BatchWatch({ batches: ctx.batches, finished, log }, batchId).done();
    return { outcome, sim, ctx };
  }

  const ids = Array.from({ length: 10 }, (_, i) => i + 1);

  describe.each([
    ['500', 'server_error'],
    ['reset', 'network'],
    ['hang', 'timeout'],
    ['slow', 'timeout'],
    ['truncate', 'bad_body'],
    ['html', 'bad_body'],
  ] as const)('with a %s on the first request for each id', (kind, reason) => {
    let outcome: BatchOutcome;
    let sim: RunningSimulator;
    beforeAll(async () => {
      ({ outcome, sim } = await runBatch({ failFirst: 1, failFirstKind: kind, slowBodyMs: 3000 }, ids));
    }, 60_000);

    it('retries and stores every id', () => {
      expect(outcome.completed).toBe(10);
      expect(outcome.failed).toBe(0);
      expect(outcome.retried).toBe(10);
    });

    it(`counts each failed attempt under its reason (${reason})`, async () => {
      expect(outcome.retries).toBe(10);
      // Fleet statistics are flushed by the worker every second.
      await until(async () => (await redis.client.hget(`faults${n}:stats:totals`, `retry:${reason}`)) === '10', 5000, `10 retries of ${reason}`);
    });

    it('makes exactly one extra request per id: no retry storm', () => {
      expect(sim.stats().requests).toBe(20);
    });
  });

  describe('with a payload for the wrong id', () => {
    it('fails each job at once as bad_payload, quoting the body, without retries', async () => {
      const { outcome, sim, ctx } = await runBatch({ failFirst: 1, failFirstKind: 'wrong-id' }, ids);
      expect(outcome.failed).toBe(10);
      expect(outcome.failures).toEqual({ bad_payload: 10 });
      expect(sim.stats().requests).toBe(10);
      const job = await ctx.queue.getJob('pokemon-3');
      expect(job?.failedReason).toMatch(/payload for id 3 has id \d+ instead; body starts: \{/);
    }, 30_000);
  });

  describe('when a fault never passes', () => {
    it('gives up after JOB_ATTEMPTS with the reason, and asks exactly that many times', async () => {
      const { outcome, sim } = await runBatch({ failFirst: 1000, failFirstKind: '500' }, [1, 2, 3, 4, 5], { JOB_ATTEMPTS: '4', JOB_BACKOFF_MS: '50' });
      expect(outcome.failed).toBe(5);
      expect(outcome.failures).toEqual({ server_error: 5 });
      expect(sim.stats().requests).toBe(20);
    }, 30_000);

    it('backs off exponentially between attempts', async () => {
      const { sim } = await runBatch({ failFirst: 1000, failFirstKind: '500' }, [1], { JOB_ATTEMPTS: '4', JOB_BACKOFF_MS: '200' }, 1);
      const t = sim.stats().requestTimes;
      expect(t).toHaveLength(4);
      const gaps = t.slice(1).map((v, i) => v - t[i]!);
      // 200 ms doubling, up to half of it random: [100-200], [200-400], [400-800] (plus polling slack).
      expect(gaps[0]).toBeGreaterThanOrEqual(90);
      expect(gaps[1]!).toBeGreaterThan(gaps[0]! * 0.9);
      expect(gaps[2]!).toBeGreaterThan(gaps[1]! * 0.9);
      expect(gaps[2]).toBeGreaterThanOrEqual(390);
    }, 30_000);
  });

  describe.each([
    ['with Retry-After: 2', 2, 1800],
    ['without Retry-After', null, 900],
  ] as const)('when the API answers 429 %s', (_label, retryAfterSeconds, minPauseMs) => {
    let outcome: BatchOutcome;
    let sim: RunningSimulator;
    let ctx: AppContext;
    beforeAll(async () => {
      // One worker slot, so requests go in id order and the 5th request is the 429.
      ({ outcome, sim, ctx } = await runBatch({ failFirst: 1, failFirstKind: '429', faultIds: [5], retryAfterSeconds }, ids, {}, 1));
    }, 30_000);

    it('stores every id', () => {
      expect(outcome.completed).toBe(10);
      expect(outcome.failed).toBe(0);
    });

    it('pauses the whole queue: no request to any id until the pause is over', () => {
      const t = sim.stats().requestTimes;
      expect(t).toHaveLength(11);
      expect(t[5]! - t[4]!).toBeGreaterThanOrEqual(minPauseMs);
    });

    it('uses up no attempt of the rate-limited job', async () => {
      const limited = await ctx.queue.getJob('pokemon-5');
      const normal = await ctx.queue.getJob('pokemon-6');
      expect(limited?.attemptsMade).toBe(normal?.attemptsMade);
      expect(outcome.retries).toBe(0);
      if (retryAfterSeconds) {
        recordGuarantee('api-faults', {
          scenario: 'API faults: 500, reset, hang, slow body, truncated JSON, HTML 200, wrong id, 429 ± Retry-After',
          test: 'api-faults › when the API misbehaves',
          idsStored: 10, idsFailed: 0, idsLost: 0, duplicateFetches: 0,
          notes: 'transient faults: exactly 1 extra request per id; wrong id: failed bad_payload, no retry; 429: queue paused ≥ Retry-After, no attempt used',
        });
      }
    });
  });
});
