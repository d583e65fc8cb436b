import type { Logger } from 'pino';
import { BatchNotFoundError } from '../batch/batch';
import { isBatchId } from '../batch/batch-id';
import { BatchWatch, FinishedBatches } from '../batch/batch-watch';
import { InvalidSpecError, UnknownNameError } from '../config/errors';
import type { Config } from '../config/variables';
import { NameCatalog } from '../ids/name-catalog';
import { parseRecordKey, parseSpecs, type ParsedSpec } from '../ids/parse-spec';
import { IdSet } from '../ids/id-set';
import { BadListError, PokeApiError, PokeApiUnavailableError } from '../pokeapi/errors';
import type { PokemonList } from '../pokeapi/id-list';
import { enqueueBatch } from '../queue/producer';
import { readQueueStatus, type QueueStatus as StatusAsRead } from '../queue/queue-status';
import type { PokemonRecord } from '../types';
import { createPokeApiClient, openContext, type AppContext } from './context';
import { libraryLogger } from './logger';
import { configFromOptions } from './options';
import type { Batch, EnqueueOptions, FollowOptions, PokeQueueOptions, QueueStatus } from './types';

/**
 * pokequeue from a program: enqueue batches, follow them, read records and the fleet's status,
 * over the same modules the CLI uses (the CLI's enqueue, status, get and export are clients of
 * this class). Built on the composition root (api/context.ts): two Redis connections (ours and
 * the queue's), and a third, a subscriber, once a batch is followed. The PokeAPI is asked only to
 * look up names (and for `all`), so undici is loaded only then.
 *
 * ```ts
 * const pq = await PokeQueue.connect({ prefix: 'my-app' });
 * const batch = await pq.enqueue(['1-151', 'pikachu']);
 * for await (const p of batch.progress()) console.log(`${p.done}/${p.total}`);
 * console.log(await batch.done());
 * await pq.close();
 * ```
 */
export class PokeQueue {
  private readonly catalog: NameCatalog;
  private readonly closing = new AbortController();
  private finished: FinishedBatches | undefined;
  private closed = false;

  /** @internal The connections and stores; the CLI's `start` runs its worker and dashboard on them. */
  readonly context: AppContext;

  private constructor(context: AppContext) {
    this.context = context;
    const { config } = context;
    this.catalog = new NameCatalog(context.redis, config.queuePrefix, { url: config.pokeapiUrl, list: () => listPokemon(config) });
  }

  /**
   * Connects to Redis (giving up after about 4 s) and resolves once it answers. Options left out
   * come from the environment (`REDIS_URL`, `REDIS_CLUSTER_NODES`, `QUEUE_PREFIX`, `POKEAPI_URL`).
   * Throws ConfigError for a bad option or variable, RedisUnavailableError (with Redis's own
   * words when it answered) when Redis cannot be used.
   */
  static async connect(options: PokeQueueOptions = {}): Promise<PokeQueue> {
    const log = libraryLogger((options as { logger?: unknown } | null)?.logger);
    return PokeQueue.open(configFromOptions(options, process.env), log);
  }

  /** @internal The CLI's way in: the configuration it parsed from the environment and its flags, and its own logger. */
  static async open(config: Config, log: Logger): Promise<PokeQueue> {
    // Nothing is written on connecting: a call that fails on bad input, or only reads, leaves Redis as it was.
    return new PokeQueue(await openContext(config, log, { startup: 'fail-fast', readOnlyQueue: true }));
  }

  /**
   * Enqueues one batch: a job for every id the specs name that is neither stored (unless
   * `refresh`) nor queued already. A spec is an id (`25` or 25), a range (`1-151`), a comma list,
   * a name (`pikachu`) or `all`. Everything is checked before anything is enqueued: a bad spec is
   * an InvalidSpecError, a name no Pokémon has an UnknownNameError (with the nearest names), a
   * list endpoint that cannot be read a BadListError or PokeApiUnavailableError. The ids are
   * enqueued 5000 at a time, so a million of them cost what a few thousand do.
   */
  async enqueue(specs: string | number | readonly (string | number)[], options: EnqueueOptions = {}): Promise<Batch> {
    this.assertOpen();
    const typed = specStrings(specs);
    const refresh = (options as { refresh?: unknown } | null)?.refresh ?? false;
    if (typeof refresh !== 'boolean') throw new InvalidSpecError(`refresh must be true or false (got ${typeof refresh})`);
    const ids = await this.idsOf(parseSpecs(typed));
    const r = await enqueueBatch(this.context, { ids, refresh, spec: typed.join(' ') });
    return this.handle(r.batchId, { requested: r.requested, added: r.added, alreadyQueued: r.alreadyQueued, alreadyStored: r.alreadyStored });
  }

  /**
   * A batch enqueued by this or any other process, by its id: follow it with `progress()` and
   * `done()`. The counts are as Redis has them now. Throws BatchNotFoundError for an id that
   * names no batch (never made, or expired a week after its last job).
   */
  async batch(id: string): Promise<Batch> {
    this.assertOpen();
    if (typeof id !== 'string' || !isBatchId(id)) throw new BatchNotFoundError(String(id));
    const snap = await this.context.batches.read(id);
    if (!snap) throw new BatchNotFoundError(id);
    return this.handle(id, { requested: snap.requested, added: snap.added, alreadyQueued: snap.queued, alreadyStored: snap.stored });
  }

  /**
   * The stored record of an id (25 or `'25'`) or a name (`'pikachu'`, any case), or null when it
   * is not stored. Reading never asks the API, except to tell a misspelt name from one not
   * fetched yet: a name the stored records do not carry is looked up in the name catalog, and
   * one no Pokémon has is an UnknownNameError. Throws InvalidSpecError for something that is
   * neither an id nor a name.
   */
  async get(idOrName: string | number): Promise<PokemonRecord | null> {
    this.assertOpen();
    const key = parseRecordKey(idOrName);
    if ('id' in key) return this.context.store.get(key.id);
    const record = await this.context.store.getByName(key.name);
    if (record || !key.catalogName) return record;
    try {
      await this.catalog.resolve([key.name]);
    } catch (err) {
      if (err instanceof UnknownNameError) throw err;
      // The API's list cannot be read: the record is not stored, which is the answer asked for.
      this.context.log.debug({ err: (err as Error).message }, `cannot check whether "${key.name}" is a name`);
    }
    return null;
  }

  /**
   * Every stored record, in id order, streamed: a few hundred records in memory at a time and a
   * 125 KB bitmap of ids, however large the store (see RecordStore.iterate).
   */
  records(): AsyncGenerator<PokemonRecord, void, undefined> {
    this.assertOpen();
    return this.context.store.iterate();
  }

  /** The fleet now: job counts, live workers, stored records, batches in progress (`status --json`). */
  async status(): Promise<QueueStatus> {
    this.assertOpen();
    const status: QueueStatus = await readQueueStatus({ ...this.context, prefix: this.context.config.queuePrefix });
    return status;
  }

  /**
   * Closes every connection. Batches being followed stop: their `progress()` and `done()` end
   * with an error saying so. Jobs already enqueued are not affected (workers run them). Safe to
   * call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new Error('PokeQueue.close() was called while this batch was being followed'));
    this.finished?.close();
    await this.context.close();
  }

  private handle(id: string, counts: Omit<Batch, 'id' | 'progress' | 'done'>): Batch {
    // Made when the batch is first followed: a batch only enqueued costs no subscriber.
    let watch: BatchWatch | undefined;
    const follow = () => {
      this.assertOpen();
      watch ??= new BatchWatch(
        {
          batches: this.context.batches,
          finished: this.subscriber(),
          log: this.context.log,
          signal: this.closing.signal,
          lostAfterMs: this.context.config.redisLostTimeoutMs,
        },
        id,
      );
      return watch;
    };
    return {
      id,
      ...counts,
      progress: (opts: FollowOptions = {}) => follow().progress({ signal: opts?.signal }),
      done: (opts: FollowOptions = {}) => follow().done({ signal: opts?.signal }),
    };
  }

  /** One subscriber connection hears every followed batch finish; made with the first one followed. */
  private subscriber(): FinishedBatches {
    this.finished ??= new FinishedBatches(this.context.redis, this.context.batches.keys.batchFinishedChannel, this.context.log);
    return this.finished;
  }

  /** The ids the specs name: names looked up in the catalog, `all` read from the API's list. */
  private async idsOf(parsed: ParsedSpec): Promise<IdSet> {
    let ids = parsed.ids;
    if (parsed.all) ids = ids.union(IdSet.fromRanges((await this.catalog.allIds()).map((id) => [id, id] as const)));
    if (parsed.names.length) ids = ids.union(IdSet.of(await this.catalog.resolve(parsed.names)));
    return ids;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('this PokeQueue is closed');
  }
}

// status() returns what readQueueStatus reads, typed by the declaration in types.ts (shipped
// without ioredis or BullMQ types). This line stops compiling when the two differ: change the
// declaration, and the README's, along with the status.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statusTypesAgree: Same<QueueStatus, StatusAsRead> = true;
void statusTypesAgree;

/** What enqueue accepts, as strings: numbers must be whole (they are ids), anything else is a bad spec. */
function specStrings(specs: unknown): string[] {
  const list = Array.isArray(specs) ? (specs as unknown[]) : [specs];
  return list.map((s) => {
    if (typeof s === 'string') return s;
    if (typeof s === 'number' && Number.isInteger(s)) return String(s);
    throw new InvalidSpecError(`a spec is a string (25, 1-151, pikachu, all) or a whole number (got ${typeof s === 'number' ? s : typeof s})`);
  });
}

/**
 * The API's whole list, for the name catalog: through a client made for this read (undici is
 * loaded here, the first time) and closed after it. Its failures become the two errors a caller
 * is told about: a list that cannot be trusted (BadListError, exit 2) and one that cannot be read
 * (PokeApiUnavailableError, exit 1); the messages name the list's URL.
 */
async function listPokemon(config: Config): Promise<PokemonList> {
  const client = createPokeApiClient(config, { connections: 4 });
  const what = `cannot list every id from ${config.pokeapiUrl}`;
  try {
    return await client.listAll();
  } catch (err) {
    if (err instanceof BadListError) throw new BadListError(`${what}: ${err.message}`);
    const reason = err instanceof PokeApiError ? err.message : String((err as Error)?.message ?? err);
    throw new PokeApiUnavailableError(`${what}: ${reason}`, { cause: err });
  } finally {
    await client.close();
  }
}
