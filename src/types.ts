/**
 * The words pokequeue uses, each with one meaning everywhere in the code, the CLI and the docs.
 *
 * - **id**: a Pokémon id as the PokeAPI numbers them (1–1025, 10001–10326 today). Any positive
 *   integer is accepted; ids the API does not know end as failed "not found".
 * - **spec**: what a user types to name ids: `25`, `1-151`, `1-10,25,10001-10010`, `pikachu`, `all`.
 * - **name catalog**: the API's list of names and ids, kept in Redis, where names in specs are
 *   looked up (read again when it does not know a name).
 * - **batch**: one call of `pokequeue enqueue` (or `start`, or `PokeQueue.enqueue`): a set of
 *   ids, an id of its own (`b-<time>-<random>`), and its state in Redis, owned by src/batch/:
 *   counters bumped exactly once per job (a bit per id in its `done` bitmap), timing histograms.
 *   It is **sealed** once every id is enqueued, and **finished** once sealed and every job it
 *   waits for has ended (the one rule, src/redis/lua/includes/finish-if-done.lua).
 * - **job**: one BullMQ job per id, with the stable job id `pokemon-<id>`, so the same id is never
 *   queued twice at once. A job belongs to the batch that added it.
 * - **adopted id**: an id a batch asked for whose job another batch had queued: not added again,
 *   but waited for, and counted in (`adopted`) when that job ends.
 * - **progress**: how far a batch is, from {@link progressOf} in src/batch/batch.ts: the one
 *   computation `--wait`, `status`, `/stats`, `/api/stats`, `/metrics` and programs all show.
 * - **worker**: one BullMQ `Worker` in one process, running up to `concurrency` jobs at once.
 *   Several workers, in several processes on several machines, share one queue through Redis.
 * - **store**: where fetched Pokémon live: Redis, under the same prefix as the queue.
 * - **record**: the normalized form of one Pokémon that the store keeps ({@link PokemonRecord}).
 * - **payload**: the raw JSON the PokeAPI answers for `/pokemon/{id}/` (~99 KB median).
 * - **simulator**: pokequeue's own stand-in for the PokeAPI, for tests, demos and benchmarks.
 * - **timing**: for each finished job, its wait (enqueued → started), fetch (HTTP request →
 *   parsed body) and total (enqueued → finished) time in milliseconds.
 * - **statistics**: timing histograms (src/stats/histogram.ts: percentiles within 5%), counts and
 *   throughput, summed in each worker and **flushed** to Redis every second, when a batch ends
 *   and at shutdown, with BullMQ's own job metrics (bull-board's chart); a crash loses at most
 *   one flush interval of one worker's.
 * - **schema**: every key, field and encoding pokequeue writes in Redis besides BullMQ's
 *   (src/redis/schema.ts), shared by the TypeScript and the Lua scripts.
 */

/** One stored Pokémon: the fields a user asks for, without the ~90% of the payload that is moves. */
export interface PokemonRecord {
  id: number;
  name: string;
  /** Decimetres, as the API gives it. */
  height: number;
  /** Hectograms, as the API gives it. */
  weight: number;
  /** Null for some alternate forms (ids 10278–10326 today). */
  baseExperience: number | null;
  order: number;
  isDefault: boolean;
  /** The species' name (`pikachu` for every Pikachu form). */
  species: string;
  /** Type names in slot order, e.g. `["grass", "poison"]`. */
  types: string[];
  abilities: { name: string; hidden: boolean }[];
  /** The API's stat names mapped to base values, e.g. `{ hp: 45, attack: 49, ... }`. */
  stats: Record<string, number>;
  /** URL of the front default sprite; null when the API has none. */
  sprite: string | null;
  moveCount: number;
  /** ISO 8601 time the worker stored this record. */
  fetchedAt: string;
  /** The URL the payload came from. */
  sourceUrl: string;
}

/** What a job carries: the id to fetch and the batch that asked for it. Kept tiny on purpose. */
export interface PokemonJobData {
  id: number;
  batchId: string;
  /** Fetch even when the store has the record (`enqueue --refresh`). */
  refresh?: boolean;
}

/** How a job ended, as the timing and batch counters record it. */
export type JobOutcome = 'completed' | 'failed';

/**
 * One job at its end, as the worker reports it to its batch (exactly, in Redis) and to the fleet
 * statistics (aggregated in the worker, flushed every second).
 */
export interface FinishedJob {
  id: number;
  batchId: string;
  outcome: JobOutcome;
  /** The failure reason (`not_found`, `server_error`, `stalled`, ...); absent when completed. */
  reason?: string;
  /** Completed from the store, without a request. */
  cached: boolean;
  /** Failed attempts before this one (BullMQ's attemptsMade). */
  attemptsMade: number;
  /** Enqueued → started, ms. */
  waitMs: number;
  /** Request → record, ms; absent when nothing was fetched (from the store, or failed). */
  fetchMs?: number;
  /** Enqueued → finished, ms. */
  totalMs: number;
}
