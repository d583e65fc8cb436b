import { hostname } from 'node:os';
import type { RedisClient } from '../redis/connection';
import { keysFor } from '../redis/schema';

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
}

export const HEARTBEAT_INTERVAL_MS = 2000;
/** A worker silent for this long counts as gone (killed, frozen, or cut off from Redis). */
export const HEARTBEAT_STALE_MS = 10_000;

export function workerIdFor(pid = process.pid, host = hostname(), n = 0): string {
  return `${host}:${pid}${n ? `:${n}` : ''}`;
}

/**
 * Publishes one worker's heartbeat in a hash every process can read, so `status`, `/stats` and
 * `/metrics` see every worker on every machine, with host and pid.
 */
export class WorkerHeartbeatPublisher {
  private timer?: NodeJS.Timeout;
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly snapshot: () => WorkerHeartbeat,
  ) {
    this.key = keysFor(prefix).workers;
  }

  /** Starts beating; resolves once the first heartbeat is written (or could not be). */
  start(): Promise<void> {
    const beat = () =>
      this.redis.hset(this.key, this.snapshot().id, JSON.stringify({ ...this.snapshot(), lastSeen: Date.now() })).then(
        () => undefined,
        () => {
          // Redis is away; the connection's own retry logs say so. The next beat tries again.
        },
      );
    this.timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
    return beat();
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
