/**
 * The bare BullMQ ceiling: a Worker whose processor does nothing, on the same queue name, prefix
 * and Redis as pokequeue's, with the worker options pokequeue's worker sets when the rate limit
 * is off (as the bench runs it): none beyond concurrency. `--limiter` adds a limiter and
 * `--metrics` BullMQ's per-job metrics, to show what each costs on its own (pokequeue sets a
 * limiter only with a rate limit, and writes BullMQ's metrics at its statistics flush). Prints
 * "noop worker ready" once created; SIGTERM closes it and exits.
 *
 * usage: REDIS_URL=... QUEUE_PREFIX=... node dist/bench/baselines/noop-worker.js <concurrency> [--limiter | --metrics]
 */
import { MetricsTime, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../../src/redis/schema';

const concurrency = Number(process.argv[2]);
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('usage: noop-worker <concurrency> [--limiter | --metrics]');
const limiter = process.argv.includes('--limiter');
const metrics = process.argv.includes('--metrics');
const prefix = process.env.QUEUE_PREFIX ?? 'pokequeue';
const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });

const worker = new Worker(QUEUE_NAME, async () => undefined, {
  connection,
  prefix,
  concurrency,
  ...(limiter ? { limiter: { max: 1_000_000, duration: 1000 } } : {}),
  ...(metrics ? { metrics: { maxDataPoints: MetricsTime.ONE_WEEK } } : {}),
});
worker.on('error', (err) => process.stderr.write(`worker error: ${err.message}\n`));
process.stdout.write(`noop worker ready (concurrency ${concurrency}${limiter ? ', limiter' : ''}${metrics ? ', metrics' : ''})\n`);

process.once('SIGTERM', () => {
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});
