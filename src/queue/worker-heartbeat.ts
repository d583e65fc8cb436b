import { hostname } from 'node:os';
import type { RedisClient } from '../redis/connection';
import { keysFor } from '../redis/schema';
import { defineScript } from '../redis/scripts';

/** What a worker tells everyone about itself, every {@link HEARTBEAT_INTERVAL_MS}. */
export interface WorkerHeartbeat {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  startedAt: number;
  lastSeen: number;
  /** Jobs this worker finished since it started. */
  completed: number;
  failed: number;
  inFlight: number;
  /** Jobs it finished per second over the last minute (or since it started, if later). */
  jobsPerSecond: number;
  /** Numbers this process's beats, so a late one never overwrites a newer one (publish-heartbeat.lua). */
  beat?: number;
}

export const HEARTBEAT_INTERVAL_MS = 2000;

/** A worker silent for this long counts as gone (killed, frozen, or cut off from Redis). */
export const HEARTBEAT_STALE_MS = 10_000;

export function workerIdFor(pid = process.pid, host = hostname(), n = 0): string {
  return `${host}:${pid}${n ? `:${n}` : ''}`;
}

/**
 * What a heartbeat vouches for beyond "the process runs": the job loop's health
 * ({@link JobLoopWatchdog}), which in turn learns from each beat whether Redis answers.
 */
export interface HeartbeatLiveness {
  readonly healthy: boolean;
  redisAnswered(): void;
  redisFailed(): void;
}

/**
 * Publishes one worker's heartbeat in a hash every process can read, so `status`, `/stats` and
 * `/metrics` see every worker on every machine, with host and pid. With a `liveness`, a worker
 * whose job loop is stuck stops publishing and removes its entry: it must not look live.
 */
export class WorkerHeartbeatPublisher {
  private timer?: NodeJS.Timeout;
  private readonly key: string;
  /** When the beat still waiting for Redis was sent; beats do not pile up behind a dead link. */
  private pendingSince: number | null = null;
  private beats = 0;
  private withdrawn = false;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly snapshot: () => WorkerHeartbeat,
    private readonly liveness?: HeartbeatLiveness,
  ) {
    this.key = keysFor(prefix).workers;
    defineScript(redis, 'pokequeuePublishHeartbeat', 'publish-heartbeat', 1);
  }

  /** Starts beating; resolves once the first heartbeat is written (or could not be). */
  start(): Promise<void> {
    let first: (() => void) | undefined;
    const written = new Promise<void>((resolve) => (first = resolve));
    const beat = () => {
      if (this.liveness && !this.liveness.healthy) {
        void this.withdraw();
        return;
      }
      if (this.pendingSince !== null) {
        // The last beat has had no answer for a whole interval: Redis is not answering us.
        if (Date.now() - this.pendingSince >= HEARTBEAT_INTERVAL_MS) this.liveness?.redisFailed();
        return;
      }
      this.pendingSince = Date.now();
      const hb = { ...this.snapshot(), lastSeen: Date.now(), beat: ++this.beats };
      const publish = (this.redis as unknown as { pokequeuePublishHeartbeat(key: string, ...args: string[]): Promise<number> }).pokequeuePublishHeartbeat;
      publish.call(this.redis, this.key, hb.id, JSON.stringify(hb), String(hb.startedAt), String(hb.beat)).finally(() => first?.()).then(
        () => {
          // A reply that took longer than an interval is no evidence that Redis answers now.
          if (Date.now() - this.pendingSince! < HEARTBEAT_INTERVAL_MS) this.liveness?.redisAnswered();
          else this.liveness?.redisFailed();
          this.pendingSince = null;
        },
        () => {
          // Redis is away; the connection's own retry logs say so. The next beat tries again.
          this.liveness?.redisFailed();
          this.pendingSince = null;
        },
      );
    };
    beat();
    this.timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
    return written;
  }

  /**
   * Stops publishing and removes the entry now rather than after HEARTBEAT_STALE_MS (if Redis
   * takes the delete within a second): for a worker that must no longer look live.
   */
  async withdraw(): Promise<void> {
    if (this.withdrawn) return;
    this.withdrawn = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.race([
      this.redis.hdel(this.key, this.snapshot().id).catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000).unref()),
    ]);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // With Redis down the delete would wait for a reconnect forever; the entry goes stale by
    // itself, so shutdown does not wait for it more than a second.
    await Promise.race([
      this.redis.hdel(this.key, this.snapshot().id).catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000).unref()),
    ]);
  }
}

/** Live workers, pruning entries whose process has been silent too long. */
export async function liveWorkers(redis: RedisClient, prefix: string, now = Date.now()): Promise<WorkerHeartbeat[]> {
  const key = keysFor(prefix).workers;
  const all = await redis.hgetall(key);
  const live: WorkerHeartbeat[] = [];
  const dead: string[] = [];
  for (const [id, json] of Object.entries(all)) {
    let hb: WorkerHeartbeat;
    try {
      hb = JSON.parse(json) as WorkerHeartbeat;
    } catch {
      // One bad entry (another tool, a half-written value) must not hide every other worker.
      dead.push(id);
      continue;
    }
    if (now - hb.lastSeen <= HEARTBEAT_STALE_MS) live.push(hb);
    // Kept a while after going silent so a crash is visible, then dropped.
    else if (now - hb.lastSeen > 60 * HEARTBEAT_STALE_MS) dead.push(id);
  }
  if (dead.length) await redis.hdel(key, ...dead);
  return live.sort((a, b) => a.id.localeCompare(b.id));
}
