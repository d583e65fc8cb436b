/**
 * The peer a user would write instead of pokequeue: about 30 lines of BullMQ + undici + ioredis.
 * `enqueue` adds one job per id with addBulk (job id `pokemon-<id>`, 5 attempts, exponential
 * backoff, 1000 completed jobs kept); `worker` fetches each one, gunzips, parses and HSETs a few
 * fields of it, one HSET per job. No batch, no statistics, no cache check, no limiter.
 *
 * usage: REDIS_URL=... POKEAPI_URL=... QUEUE_PREFIX=... node dist/bench/baselines/hand-rolled.js enqueue <count>
 *        REDIS_URL=... POKEAPI_URL=... QUEUE_PREFIX=... node dist/bench/baselines/hand-rolled.js worker <concurrency>
 * `worker` prints "hand-rolled worker ready"; SIGTERM closes it. `enqueue` prints {"ms":T}.
 */
import { gunzipSync } from 'node:zlib';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { HAND_ROLLED_JOB_OPTIONS } from './hand-rolled-options';

const [mode, arg] = process.argv.slice(2);
const n = Number(arg);
const prefix = process.env.QUEUE_PREFIX ?? 'hand-rolled';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const api = process.env.POKEAPI_URL ?? 'https://pokeapi.co/api/v2';
if (!['enqueue', 'worker'].includes(mode ?? '') || !Number.isInteger(n) || n < 1) throw new Error('usage: hand-rolled enqueue <count> | worker <concurrency>');

if (mode === 'enqueue') {
  const queue = new Queue('pokemon', { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix });
  const opts = HAND_ROLLED_JOB_OPTIONS;
  const started = performance.now();
  void (async () => {
    for (let id = 1; id <= n; id += 1000) {
      const ids = Array.from({ length: Math.min(1000, n - id + 1) }, (_, i) => id + i);
      await queue.addBulk(ids.map((i) => ({ name: 'fetch', data: { id: i }, opts: { ...opts, jobId: `pokemon-${i}` } })));
    }
    process.stdout.write(`${JSON.stringify({ ms: Math.round(performance.now() - started) })}\n`);
    await queue.close();
    process.exit(0);
  })();
} else {
  const redis = new Redis(redisUrl);
  const agent = new Agent({ connections: n });
  const worker = new Worker(
    'pokemon',
    async (job) => {
      const res = await request(`${api}/pokemon/${job.data.id}/`, { dispatcher: agent, headers: { 'accept-encoding': 'gzip' } });
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      const body = Buffer.from(await res.body.arrayBuffer());
      const p = JSON.parse((res.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8'));
      await redis.hset(`${prefix}:hr:${p.id}`, { name: p.name, height: p.height, weight: p.weight, types: p.types.map((t: { type: { name: string } }) => t.type.name).join(',') });
      return { ok: true };
    },
    { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix, concurrency: n },
  );
  worker.on('error', (err) => process.stderr.write(`worker error: ${err.message}\n`));
  process.stdout.write('hand-rolled worker ready\n');
  process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
}
