/**
 * What-if workers: pokequeue's own startPokemonWorker, run as the CLI's worker command runs it,
 * but with one dependency swapped to emulate a change proposed for src/, so its gain can be
 * measured before anyone edits src/. Prints "worker ready"; SIGTERM closes it and exits.
 *
 * Variants:
 * - `as-is`: nothing swapped (checks that this harness matches `pokequeue worker`).
 * - `no-recorder`: outcome recording does nothing: what the per-job statistics script costs.
 * - `one-round-trip`: the record, the name and the outcome script go to Redis in ONE MULTI
 *   instead of two separate round trips (store.put, then recorder.record).
 * - `fast-gunzip`: the client inflates small bodies synchronously and large ones in a single
 *   libuv round trip (output buffer sized from the gzip trailer) instead of 16 KB chunks.
 *
 * usage: REDIS_URL=... POKEAPI_URL=... QUEUE_PREFIX=... node dist/bench/baselines/worker-variant.js <concurrency> <variant>
 */
import * as zlib from 'node:zlib';
import { request } from 'undici';
import { openContext } from '../../src/cli/context';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/log';
import { PokeApiClient, type FetchedPokemon } from '../../src/pokeapi/client';
import { TransientFetchError } from '../../src/pokeapi/errors';
import { classifyNetworkError, errorForStatus, sample } from '../../src/pokeapi/fetch-policy';
import { startPokemonWorker, type PokemonWorkerDeps } from '../../src/queue/pokemon-worker';
import { workerIdFor } from '../../src/queue/worker-heartbeat';
import { createRedis, type RedisClient } from '../../src/redis/connection';
import { keysFor } from '../../src/redis/keys';
import { OutcomeRecorder, type OutcomeRecord } from '../../src/stats/outcome-recorder';
import type { RecordStore } from '../../src/store/record-store';
import type { PokemonRecord } from '../../src/types';

export const VARIANTS = ['as-is', 'no-recorder', 'one-round-trip', 'fast-gunzip'] as const;
type Variant = (typeof VARIANTS)[number];

async function main(): Promise<void> {
  const concurrency = Number(process.argv[2]);
  const variant = process.argv[3] as Variant;
  if (!Number.isInteger(concurrency) || !VARIANTS.includes(variant)) throw new Error(`usage: worker-variant <concurrency> <${VARIANTS.join('|')}>`);
  const config = { ...parseConfig(process.env), workerConcurrency: concurrency };
  const log = createLogger('warn', { pretty: false });
  const ctx = await openContext(config, log, { startup: 'fail-fast' });
  const connection = createRedis(config, { startup: 'fail-fast', forWorker: true, log });
  const deps: PokemonWorkerDeps = { ...ctx, connection, workerId: workerIdFor(), concurrency };

  if (variant === 'no-recorder') {
    deps.recorder = { record: async () => true, recordRetry: async () => undefined } as unknown as OutcomeRecorder;
  } else if (variant === 'one-round-trip') {
    const merged = mergedWrites(ctx.redis, config.queuePrefix, ctx.store);
    deps.store = merged.store;
    deps.recorder = merged.recorder;
  } else if (variant === 'fast-gunzip') {
    deps.client = new FastGunzipClient(config.pokeapiUrl, config.httpTimeoutMs, concurrency);
  }

  const running = startPokemonWorker(deps);
  process.stdout.write(`worker ready (variant ${variant}, concurrency ${concurrency})\n`);
  process.once('SIGTERM', () => {
    void running.close(5000).then(async () => {
      connection.disconnect();
      await ctx.close();
      process.exit(0);
    });
  });
}

/**
 * store.put only remembers the record; recorder.record then sends HSET record, HSET name and
 * the outcome script in one MULTI, the way a merged write in the processor would.
 */
function mergedWrites(redis: RedisClient, prefix: string, realStore: RecordStore): { store: RecordStore; recorder: OutcomeRecorder } {
  const keys = keysFor(prefix);
  const pending = new Map<number, PokemonRecord>();
  const store = Object.create(realStore) as RecordStore;
  store.put = async (record: PokemonRecord) => {
    pending.set(record.id, record);
  };
  const recorder = Object.create(new OutcomeRecorder(redis, prefix)) as OutcomeRecorder;
  recorder.record = async (o: OutcomeRecord) => {
    const tx = redis.multi();
    const record = pending.get(o.id);
    pending.delete(o.id);
    if (record) {
      tx.hset(keys.records, String(record.id), JSON.stringify(record));
      tx.hset(keys.names, record.name, String(record.id));
    }
    // OutcomeRecorder.record on the transaction queues its script call there instead of sending it.
    const queued = new OutcomeRecorder(tx as unknown as RedisClient, prefix);
    void queued.record(o).catch(() => undefined);
    const results = await tx.exec();
    const last = results?.at(-1);
    if (last?.[0]) throw last[0];
    return last?.[1] === 1;
  };
  return { store, recorder };
}

/** PokeApiClient with the proposed decode: the rest of fetchPokemon is as in src/pokeapi/client.ts. */
class FastGunzipClient extends PokeApiClient {
  private readonly pool: import('undici').Agent;

  constructor(
    private readonly base: string,
    private readonly timeoutMs: number,
    connections: number,
  ) {
    super({ baseUrl: base, timeoutMs, connections });
    this.pool = (this as unknown as { agent: import('undici').Agent }).agent;
  }

  override async fetchPokemon(id: number): Promise<FetchedPokemon> {
    const url = `${this.base}/pokemon/${id}/`;
    const started = performance.now();
    let res: Awaited<ReturnType<typeof request>>;
    let body: Buffer;
    try {
      res = await request(url, {
        dispatcher: this.pool,
        headers: { 'accept-encoding': 'gzip, br', accept: 'application/json', 'user-agent': 'pokequeue' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      throw classifyNetworkError(err);
    }
    const encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
    let text: string;
    try {
      text = (encoding === 'gzip' ? await fastGunzip(body) : body).toString('utf8');
    } catch (err) {
      throw new TransientFetchError('bad_body', `body could not be decompressed (${encoding}): ${(err as Error).message}`);
    }
    if (res.statusCode !== 200) throw errorForStatus(id, res.statusCode, res.headers, sample(text));
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      throw new TransientFetchError('bad_body', `body is not JSON; starts: ${sample(text)}`);
    }
    return { payload, url, fetchMs: performance.now() - started, wireBytes: body.length };
  }
}

/** Below this many compressed bytes, inflating inline (~25 µs) is cheaper than a trip to the pool. */
const SYNC_GUNZIP_BELOW = 4096;

/**
 * The proposed decode: small bodies inline; large ones in one pool round trip, with the output
 * buffer sized from the gzip trailer (ISIZE: uncompressed length mod 2^32), clamped.
 */
function fastGunzip(body: Buffer): Promise<Buffer> {
  if (body.length < SYNC_GUNZIP_BELOW) return Promise.resolve(zlib.gunzipSync(body));
  const isize = body.length >= 18 ? body.readUInt32LE(body.length - 4) : 0;
  const chunkSize = Math.min(Math.max(isize + 1024, 64 * 1024), 8 * 1024 * 1024);
  return new Promise((resolve, reject) => zlib.gunzip(body, { chunkSize }, (err, out) => (err ? reject(err) : resolve(out))));
}

// The bench imports VARIANTS from here; only running the file starts a worker.
if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
