import { Queue } from 'bullmq';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../src/simulator/server';
import { recordGuarantee } from './helpers/guarantees';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { until } from './helpers/until';
import { startTestRedis, type TestRedis } from './helpers/redis';

/** What `enqueue --wait --json` prints: the batch summary (the fields these specs read). */
interface BatchOutcome {
  batchId: string;
  completed: number;
  failed: number;
  retried: number;
  retries: number;
  failures: Record<string, number>;
}

/** One scenario's world: a simulator misbehaving one way, and a `pokequeue worker` process in front of it. */
interface Rig {
  sim: RunningSimulator;
  worker: WorkerProcess;
  env: Record<string, string>;
  prefix: string;
  queue: Queue;
}

/**
 * The API misbehaving in every way the fetch policy knows, against real worker processes (the
 * shipped CLI) and a real Redis. The simulator counts requests, so a retry storm fails the test.
 * Every scenario has its own simulator and worker; they all start at once, before the first one
 * runs, so that starting eleven processes costs about one start.
 */
describe('when the API misbehaves', () => {
  let redis: TestRedis;
  const rigs = new Map<string, Promise<Rig>>();
  const started: Rig[] = [];
  let n = 0;

  function rig(name: string, simOpts: SimulatorOptions, env: Record<string, string> = {}, concurrency = 4): void {
    const prefix = `faults${++n}`;
    rigs.set(
      name,
      (async () => {
        const sim = await startSimulator(simOpts);
        const rigEnv = {
          REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0',
          JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100', HTTP_TIMEOUT_MS: '800', LOG_LEVEL: 'warn', ...env,
        };
        const worker = await startWorker({ ...rigEnv, LOG_LEVEL: 'info' }, ['--concurrency', String(concurrency)]).catch(async (err) => {
          await sim.close();
          throw err;
        });
        const r = { sim, worker, env: rigEnv, prefix, queue: new Queue('pokemon', { connection: redis.client, prefix }) };
        started.push(r);
        return r;
      })(),
    );
  }

  /** Runs `pokequeue enqueue <ids> --wait --json` against the named scenario's worker. */
  async function runBatch(name: string, ids: number[]): Promise<{ outcome: BatchOutcome } & Rig> {
    const r = await rigs.get(name)!;
    const run = await runCli(['enqueue', ids.join(','), '--wait', '--json'], r.env);
    const outcome = JSON.parse(run.stdout) as BatchOutcome;
    expect(run.code).toBe(outcome.failed > 0 ? 1 : 0);
    return { outcome, ...r };
  }

  const kinds = [
    ['500', 'server_error'],
    ['reset', 'network'],
    ['hang', 'timeout'],
    ['slow', 'timeout'],
    ['truncate', 'bad_body'],
    ['html', 'bad_body'],
  ] as const;

  beforeAll(async () => {
    redis = await startTestRedis();
    for (const [kind] of kinds) rig(kind, { failFirst: 1, failFirstKind: kind, slowBodyMs: 3000 });
    rig('wrong-id', { failFirst: 1, failFirstKind: 'wrong-id' });
    rig('never-passes', { failFirst: 1000, failFirstKind: '500' }, { JOB_ATTEMPTS: '4', JOB_BACKOFF_MS: '50' });
    rig('backoff', { failFirst: 1000, failFirstKind: '500' }, { JOB_ATTEMPTS: '4', JOB_BACKOFF_MS: '200' }, 1);
    // One worker slot, so requests go in id order and the 5th request is the 429.
    rig('429-2', { failFirst: 1, failFirstKind: '429', faultIds: [5], retryAfterSeconds: 2 }, {}, 1);
    rig('429-none', { failFirst: 1, failFirstKind: '429', faultIds: [5], retryAfterSeconds: null }, {}, 1);
    await Promise.all(rigs.values());
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(rigs.values());
    await Promise.all(started.map(async (r) => {
      await r.worker.stop();
      await r.queue.close();
      await r.sim.close();
    }));
    await redis?.stop();
  });

  const ids = Array.from({ length: 10 }, (_, i) => i + 1);

  describe.each(kinds)('with a %s on the first request for each id', (kind, reason) => {
    let outcome: BatchOutcome;
    let sim: RunningSimulator;
    let prefix: string;
    beforeAll(async () => {
      ({ outcome, sim, prefix } = await runBatch(kind, ids));
    }, 60_000);

    it('retries and stores every id', () => {
      expect(outcome.completed).toBe(10);
      expect(outcome.failed).toBe(0);
      expect(outcome.retried).toBe(10);
    });

    it(`counts each failed attempt under its reason (${reason})`, async () => {
      expect(outcome.retries).toBe(10);
      // Fleet statistics are flushed by the worker every second.
      await until(async () => (await redis.client.hget(`${prefix}:stats:totals`, `retry:${reason}`)) === '10', 5000, `10 retries of ${reason}`);
    });

    it('makes exactly one extra request per id: no retry storm', () => {
      expect(sim.stats().requests).toBe(20);
    });
  });

  describe('with a payload for the wrong id', () => {
    it('fails each job at once as bad_payload, quoting the body, without retries', async () => {
      const { outcome, sim, queue } = await runBatch('wrong-id', ids);
      expect(outcome.failed).toBe(10);
      expect(outcome.failures).toEqual({ bad_payload: 10 });
      expect(sim.stats().requests).toBe(10);
      const job = await queue.getJob('pokemon-3');
      expect(job?.failedReason).toMatch(/payload for id 3 has id \d+ instead; body starts: \{/);
    }, 30_000);
  });

  describe('when a fault never passes', () => {
    it('gives up after JOB_ATTEMPTS with the reason, and asks exactly that many times', async () => {
      const { outcome, sim } = await runBatch('never-passes', [1, 2, 3, 4, 5]);
      expect(outcome.failed).toBe(5);
      expect(outcome.failures).toEqual({ server_error: 5 });
      expect(sim.stats().requests).toBe(20);
    }, 30_000);

    it('backs off exponentially between attempts', async () => {
      const { sim } = await runBatch('backoff', [1]);
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
    ['with Retry-After: 2', '429-2', 2, 1800],
    ['without Retry-After', '429-none', null, 900],
  ] as const)('when the API answers 429 %s', (_label, name, retryAfterSeconds, minPauseMs) => {
    let outcome: BatchOutcome;
    let sim: RunningSimulator;
    let queue: Queue;
    beforeAll(async () => {
      ({ outcome, sim, queue } = await runBatch(name, ids));
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
      const limited = await queue.getJob('pokemon-5');
      const normal = await queue.getJob('pokemon-6');
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

/**
 * With RATE_LIMIT_PER_SECOND off the workers run without BullMQ's limiter (it would cost every
 * job three Redis commands), so the pause a 429 sets must reach the others through a global limit
 * set for the pause (src/queue/queue-pause.ts). One worker alone would wait by itself either way:
 * this takes two processes.
 */
describe('when the API answers 429 to one of two worker processes, with the rate limit off', () => {
  const ids = Array.from({ length: 40 }, (_, i) => i + 1);
  let redis: TestRedis;
  let sim: RunningSimulator;
  let queue: Queue;
  const workers: WorkerProcess[] = [];
  let outcome: BatchOutcome;

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimulator({ failFirst: 1, failFirstKind: '429', faultIds: [5], retryAfterSeconds: 2 });
    const env = { REDIS_URL: redis.url, POKEAPI_URL: sim.url, QUEUE_PREFIX: 'pause2', RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
    queue = new Queue('pokemon', { connection: redis.client, prefix: 'pause2' });
    workers.push(...(await Promise.all([1, 2].map(() => startWorker({ ...env, LOG_LEVEL: 'info' }, ['--concurrency', '1'])))));
    const run = await runCli(['enqueue', ids.join(','), '--wait', '--json'], env);
    outcome = JSON.parse(run.stdout) as BatchOutcome;
  }, 40_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await queue?.close();
    await sim?.close();
    await redis?.stop();
  });

  it('stores every id', () => {
    expect(outcome).toMatchObject({ completed: 40, failed: 0, retries: 0 });
  });

  it('pauses the other worker too: no more than the requests already under way before Retry-After is over', () => {
    const t = sim.stats().requestTimes;
    expect(t).toHaveLength(41);
    // Ids 1-5 (the fifth answered 429) and at most one request of the other worker already on its
    // way; a worker that did not pause would fetch the other 35 ids meanwhile.
    expect(t.filter((x) => x - t[0]! < 1800).length).toBeLessThanOrEqual(7);
  });

  it('lifts the pause-only global limit once the pause is over, so jobs pay no limiter again', async () => {
    await until(async () => (await queue.getGlobalRateLimit()) === null, 5000, 'the global limit to be lifted');
    // The window BullMQ counted jobs into while the limit was set runs out by itself.
    await until(async () => (await redis.client.exists('pause2:pokemon:limiter')) === 0, 3000, 'the limiter key to expire');
  });
});
