/**
 * The library's own public types: what PokeQueue takes and returns beyond the types other
 * modules own (PokemonRecord in types.ts, the batch types in batch/batch.ts, the errors beside
 * the code that throws them). Declarations only, importing only modules that are declarations
 * themselves: the package ships its type declarations without ioredis, BullMQ, pino or zod types
 * (see tsconfig.types.json), so a program that type-checks against pokequeue needs none of them.
 */
import type { BatchProgress, BatchSummary, BatchView } from '../batch/batch';

/**
 * One logging method: pino's (`log.warn({ batchId }, 'message')`) and console's both fit.
 * `fields` is omitted when a line has none.
 */
export type PokeQueueLogMethod = (fieldsOrMessage: Record<string, unknown> | string, message?: string) => void;

/** Where PokeQueue's log lines go: a pino logger, `console`, or anything with these four methods. */
export interface PokeQueueLogger {
  error: PokeQueueLogMethod;
  warn: PokeQueueLogMethod;
  info: PokeQueueLogMethod;
  debug: PokeQueueLogMethod;
}

/**
 * What {@link PokeQueue.connect} takes. Each option left out (or undefined: `{ redisUrl:
 * process.env.MY_REDIS }` is fine under `exactOptionalPropertyTypes`) is read from the environment, as the
 * CLI reads it, and validated the same way (a bad value is a ConfigError naming the option, or
 * the variable). The rest of the configuration (job attempts, backoff, how many finished jobs
 * Redis keeps: see the README's Configuration) always comes from the environment.
 */
export interface PokeQueueOptions {
  /**
   * The Redis holding the queue and the records: `redis://[:password@]host:port[/db]`, or
   * `rediss://` for TLS. Never logged with its password.
   * @defaultValue `REDIS_URL`, else `redis://127.0.0.1:6379`
   */
  readonly redisUrl?: string | undefined;
  /**
   * Redis Cluster seed nodes (`host:port`). With a cluster, `redisUrl` only supplies the password
   * and TLS, and `prefix` must hold a `{hash-tag}`.
   * @defaultValue `REDIS_CLUSTER_NODES` (comma-separated), else none: a single Redis
   */
  readonly clusterNodes?: string | readonly string[] | undefined;
  /**
   * The prefix of every key pokequeue keeps in Redis: the same as the workers' `QUEUE_PREFIX`.
   * @defaultValue `QUEUE_PREFIX`, else `pokequeue`
   */
  readonly prefix?: string | undefined;
  /**
   * The PokeAPI, whose list endpoint names in specs and `all` are looked up in (the workers fetch
   * from their own `POKEAPI_URL`).
   * @defaultValue `POKEAPI_URL`, else `https://pokeapi.co/api/v2`
   */
  readonly pokeapiUrl?: string | undefined;
  /**
   * Where log lines go (Redis lost and regained, a batch that cannot be read for a while).
   * @defaultValue none: a library writes nothing unless asked (`LOG_LEVEL` is not read)
   */
  readonly logger?: PokeQueueLogger | undefined;
}

/** What {@link PokeQueue.enqueue} takes besides the specs. */
export interface EnqueueOptions {
  /**
   * Fetch ids again even when their records are stored (`enqueue --refresh`).
   * @defaultValue false
   */
  readonly refresh?: boolean | undefined;
}

/** How long a consumer follows a batch: {@link Batch.progress} and {@link Batch.done}. */
export interface FollowOptions {
  /** Stops following: the iteration or the promise ends with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A batch: the ids of one `enqueue`, their jobs and counters in Redis. The counts are those of
 * the moment the batch was enqueued (or, from {@link PokeQueue.batch}, read).
 */
export interface Batch {
  /** The batch's id (`b-<time>-<random>`): give it to {@link PokeQueue.batch} in another process. */
  readonly id: string;
  /** Distinct ids the specs named. */
  readonly requested: number;
  /** Jobs this batch added (and owns). */
  readonly added: number;
  /** Ids another batch had already queued or started: not added again, but waited for. */
  readonly alreadyQueued: number;
  /** Ids whose records were stored already: skipped, no request made (unless `refresh`). */
  readonly alreadyStored: number;
  /**
   * The batch's progress each time it changes (and at least every second, for rate and ETA),
   * ending after the one with `finished: true`. Each call is a consumer of its own, reading the
   * counters in Redis (one small read per step, however large the batch); any number may run at
   * once, and a consumer that reads slowly only skips steps.
   */
  progress(options?: FollowOptions): AsyncGenerator<BatchProgress, void, undefined>;
  /**
   * The summary once the batch has finished: the object `pokequeue enqueue --wait --json`
   * prints. Every caller shares one wait.
   */
  done(options?: FollowOptions): Promise<BatchSummary>;
}

/** One live worker process, as its heartbeat describes it. */
export interface WorkerStatus {
  /** `host:pid`. */
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  /** ms since the epoch. */
  startedAt: number;
  /** Its latest heartbeat, ms since the epoch. */
  lastSeen: number;
  /** Jobs it finished since it started. */
  completed: number;
  failed: number;
  inFlight: number;
  /** Jobs it finished per second over the last minute (or since it started, if later). */
  jobsPerSecond: number;
}

/** The fleet right now: what {@link PokeQueue.status} returns and `pokequeue status --json` prints. */
export interface QueueStatus {
  /** Live worker processes (distinct host and pid). */
  workers: number;
  workerList: WorkerStatus[];
  /** Jobs per state: waiting, active, delayed, prioritized, completed and failed (those kept). */
  counts: Record<string, number>;
  /** Records in the store. */
  stored: number;
  /** Whether the queue is paused (a 429 pauses it for Retry-After). */
  paused: boolean;
  /** Batches not finished yet, newest first (of the 50 newest). */
  batchesInProgress: BatchView[];
}
