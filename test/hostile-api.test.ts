import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { newBatchId } from '../src/batch/batch-id';
import {
  buildBombs, endlessBody, peakRss, payload, sendBytes, sendEncoded, startHostileApi, type HostileApi,
} from './helpers/hostile-api';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';
import { until } from './helpers/until';

/**
 * What the API sends cannot take a worker down (issue 11): decompression bombs, an endless body,
 * 30 MB of JSON, JSON that would cost 20x its size once parsed, a payload nested a million deep.
 * Each fails its job at once (no retries) with a reason, and the worker's peak memory stays
 * bounded. Two worker processes at the default concurrency (10): one with the default parse
 * thread, so large bodies are decoded off the event loop, and one with PARSE_THREADS=0, so every
 * body is decoded and parsed on it.
 */

/** What the README states as the bound: default settings, concurrency 10, whatever the API sends. */
const PEAK_RSS_BOUND = 400 * 1024 * 1024;

describe('a worker facing a hostile API', () => {
  let redis: TestRedis;
  let api: HostileApi;
  const workers: Record<string, WorkerProcess> = {};
  const env = (prefix: string) => ({
    REDIS_URL: redis.url, POKEAPI_URL: api.url, QUEUE_PREFIX: prefix, RATE_LIMIT_PER_SECOND: '0',
    // Retries would show as second requests; a 30 s deadline shows that the limit, not the
    // timeout, ends the endless body.
    JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100', HTTP_TIMEOUT_MS: '30000',
  });

  /** id → what the API answers for it, and how the job must end. */
  const hostile: Record<number, { what: string; reason: 'too_large' | 'bad_payload'; message: RegExp }> = {
    1: { what: 'gzip, 1 MiB inflating to 1 GiB', reason: 'too_large', message: /decompresses \(gzip\) to more than HTTP_MAX_BODY_BYTES/ },
    2: { what: 'gzip, 6 MiB on the wire', reason: 'too_large', message: /larger than HTTP_MAX_WIRE_BYTES \(4194304 bytes\) on the wire; it declared/ },
    3: { what: 'brotli, 1.6 KB inflating to 1 GiB', reason: 'too_large', message: /decompresses \(br\) to more than HTTP_MAX_BODY_BYTES/ },
    4: { what: 'deflate, 250 KB inflating to 256 MiB', reason: 'too_large', message: /decompresses \(deflate\) to more than/ },
    5: { what: 'a body that never ends', reason: 'too_large', message: /larger than HTTP_MAX_WIRE_BYTES .* reading stopped there/ },
    6: { what: '30 MB of valid JSON', reason: 'too_large', message: /larger than HTTP_MAX_WIRE_BYTES/ },
    7: { what: '30 MB of valid JSON, gzip', reason: 'too_large', message: /decompresses \(gzip\)/ },
    8: { what: 'brotli, 12 KB inflating to 64 MiB', reason: 'too_large', message: /decompresses \(br\)/ },
    9: { what: '4 MiB of {},{},... (1.4 M objects)', reason: 'bad_payload', message: /JSON values, more than the 131072 allowed/ },
    10: { what: 'a name nested 100,000 arrays deep', reason: 'bad_payload', message: /payload for id 10 has no name; body starts: \(unprintable: Maximum call stack/ },
  };
  const ids = Object.keys(hostile).map(Number);
  /** Real-looking payloads of 500 KB of `{},{},...` just under the structure scan: stored, and each 11 MB once parsed. */
  const heavy = Array.from({ length: 20 }, (_, i) => 101 + i);
  const outcomes: Record<string, { code: number | null; summary: any; peak: number; ms: number }> = {};

  beforeAll(async () => {
    redis = await startTestRedis();
    api = await startHostileApi();
    const bombs = buildBombs();
    const big = Buffer.from(JSON.stringify(payload(6, { moves: Array.from({ length: 150_000 }, (_, i) => ({ move: { name: `move-${i}`, url: 'x'.repeat(160) } })) })));
    const tiny = (id: number) => JSON.stringify(payload(id)).slice(0, -1);
    api.pokemon.set(1, sendEncoded(bombs.gzip, 'gzip'));
    api.pokemon.set(2, sendEncoded(bombs.gzip6, 'gzip'));
    api.pokemon.set(3, sendEncoded(bombs.brotli, 'br'));
    api.pokemon.set(4, sendEncoded(bombs.deflate, 'deflate'));
    api.pokemon.set(5, endlessBody);
    api.pokemon.set(6, (_q, res) => sendBytes(res, 200, big));
    api.pokemon.set(7, (_q, res) => sendBytes(res, 200, big, 'gzip'));
    // Incompressible bytes first, so the body is large enough (8 KB) to go to the parse thread.
    const brotliLarge = zlib.brotliCompressSync(Buffer.concat([randomBytes(12_000), Buffer.alloc(64 << 20)]));
    api.pokemon.set(8, sendEncoded(brotliLarge, 'br'));
    const heap = Buffer.from(`${tiny(9)},"x":[{}${',{}'.repeat(1_390_000)}]}`);
    api.pokemon.set(9, (_q, res) => sendBytes(res, 200, heap, 'gzip'));
    const nested = Buffer.from(`${tiny(10).replace('"name":"p10"', `"name":${'['.repeat(100_000)}${']'.repeat(100_000)}`)}}`);
    api.pokemon.set(10, (_q, res) => sendBytes(res, 200, nested, 'gzip'));
    for (const id of heavy) {
      const body = zlib.gzipSync(Buffer.from(`${tiny(id)},"x":[{}${',{}'.repeat(170_000)}]}`));
      api.pokemon.set(id, sendEncoded(body, 'gzip'));
    }
    expect(bombs.brotli.length).toBeLessThan(4096);
    expect(brotliLarge.length).toBeGreaterThan(8192);

    // One at a time: each worker's peak memory is its own.
    for (const [name, extra] of [['threaded', {}], ['event-loop', { PARSE_THREADS: '0' }]] as const) {
      workers[name] = await startWorker({ ...env(name), ...extra });
      const started = Date.now();
      const r = await runCli(['enqueue', [...ids, ...heavy].join(','), '--wait', '--json'], env(name), 60_000);
      const ms = Date.now() - started;
      outcomes[name] = { code: r.code, summary: JSON.parse(r.stdout.trim().split('\n').at(-1)!), peak: peakRss(workers[name].child.pid!), ms };
    }
  }, 120_000);

  afterAll(async () => {
    for (const w of Object.values(workers)) await w.stop();
    await api?.close();
    await redis?.stop();
  });

  describe.each(['threaded', 'event-loop'])('with the body decoded on the %s', (name) => {
    it('fails every bomb at once, each with its reason, and stores the heavy payloads; exit 1', () => {
      const o = outcomes[name]!;
      expect(o.code).toBe(1);
      expect(o.summary).toMatchObject({ failed: ids.length, completed: heavy.length, retries: 0, failures: { too_large: 8, bad_payload: 2 } });
    });

    it('says what was too large, and where it stopped', async () => {
      const connection = new Redis(redis.url);
      const queue = new Queue('pokemon', { connection, prefix: name });
      try {
        for (const id of ids) {
          const job = await queue.getJob(`pokemon-${id}`);
          expect([id, hostile[id]!.what, job?.failedReason]).toEqual([id, hostile[id]!.what, expect.stringMatching(hostile[id]!.message)]);
          expect(job?.attemptsMade).toBe(1);
        }
      } finally {
        await queue.close();
        connection.disconnect();
      }
    });

    it(`keeps the worker's peak memory under ${PEAK_RSS_BOUND >> 20} MB`, () => {
      const o = outcomes[name]!;
      process.stdout.write(`hostile API, ${name}: ${ids.length} bombs and ${heavy.length} heavy payloads in ${o.ms} ms, worker peak RSS ${(o.peak / 2 ** 20).toFixed(0)} MB\n`);
      expect(o.peak).toBeLessThan(PEAK_RSS_BOUND);
    });
  });

  it('asks for each id once: nothing is retried', () => {
    const perId = new Map<string, number>();
    for (const r of api.requests) perId.set(r.url, (perId.get(r.url) ?? 0) + 1);
    for (const id of ids) expect([id, perId.get(`/api/v2/pokemon/${id}/`)]).toEqual([id, 2]); // once per worker
  });

  it('stops reading an endless body at the limit, long before HTTP_TIMEOUT_MS', () => {
    const endless = api.requests.filter((r) => r.url === '/api/v2/pokemon/5/');
    for (const r of endless) {
      expect(r.closedAfterMs).toBeLessThan(5000);
      // The limit plus what the kernel's socket buffers took in before the client hung up.
      expect(r.bytesSent).toBeLessThan(64 << 20);
    }
  });

  describe('when a job carries data the producer never writes (added through bull-board or Redis)', () => {
    const junk: [string, unknown][] = [
      ['a path for an id', { id: '../../../admin?x=', batchId: newBatchId() }],
      ['a file for an id', { id: '/etc/passwd', batchId: newBatchId() }],
      ['an object for an id', { id: { toString: 'x' }, batchId: newBatchId() }],
      ['id 0', { id: 0, batchId: newBatchId() }],
      ['a fractional id', { id: 1.5, batchId: newBatchId() }],
      ['an id past MAX_ID', { id: 2_000_000_000, batchId: newBatchId() }],
      ['an id as a string', { id: '25', batchId: newBatchId() }],
      ['no batch id', { id: 25 }],
      ['a batch id that is a path', { id: 25, batchId: '../../x' }],
      ['refresh that is not a boolean', { id: 25, batchId: newBatchId(), refresh: 'yes' }],
      ['no data at all', {}],
      ['an array', [25]],
    ];
    let queue: Queue;
    let connection: Redis;
    let requestsBefore: number;
    let keysBefore: string[];

    beforeAll(async () => {
      connection = new Redis(redis.url);
      queue = new Queue('pokemon', { connection, prefix: 'threaded' });
      requestsBefore = api.requests.length;
      keysBefore = (await redis.client.keys('*')).sort();
      for (const [what, data] of junk) await queue.add(what, data, { attempts: 3, jobId: `junk-${junk.findIndex((j) => j[0] === what)}` });
      await until(async () => (await queue.getJobCounts('failed')).failed === ids.length + junk.length, 20_000, 'every junk job to fail');
    });
    afterAll(async () => {
      await queue?.close();
      connection?.disconnect();
    });

    it.each(junk.map(([what], i) => [what, i]))('fails %s at once as bad_job', async (_what, i) => {
      const job = await queue.getJob(`junk-${i}`);
      expect(job?.failedReason).toMatch(/^bad_job: /);
      expect(job?.attemptsMade).toBe(1);
    });

    it('makes no request and writes no key of its own (no <prefix>:batch:undefined)', async () => {
      expect(api.requests.length).toBe(requestsBefore);
      const added = (await redis.client.keys('*')).sort().filter((k) => !keysBefore.includes(k));
      // Only BullMQ's own keys for the failed jobs (and its bookkeeping) appear.
      expect(added.filter((k) => !k.startsWith('threaded:pokemon:'))).toEqual([]);
      expect(await redis.client.keys('*undefined*')).toEqual([]);
    });

    it('says so in the worker log, with what the job carried', () => {
      const messages = workers.threaded!.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).msg as string);
      expect(messages).toContainEqual(expect.stringMatching(/^job failed without a request: bad_job: id must be a whole number from 1 to 1000000; job data: \{"id":"\.\.\/\.\.\/\.\.\/admin\?x="/));
    });
  });
});
