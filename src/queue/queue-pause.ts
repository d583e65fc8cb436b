import type { Logger } from 'pino';
import type { PokemonQueue } from './pokemon-queue';

/**
 * A global rate limit no worker can reach, set only to make every worker read BullMQ's limiter
 * key while a pause is on. Its odd `max` tells it from a limit a user set.
 */
export const PAUSE_ONLY_LIMIT = { max: 999_999_999, duration: 1000 } as const;

/**
 * The queue-wide pause after a 429 (job-policy.ts, 'pause-queue'): no worker on any machine takes
 * a job until it is over. BullMQ pauses them through its rate limiter: `Queue.rateLimit(ms)` fills
 * the limiter key for that long, and every fetch (moveToActive) reads the key, but only where a
 * limit is set, by the worker (its `limiter`) or for the whole queue (a global rate limit).
 *
 * With RATE_LIMIT_PER_SECOND set, every worker has a limiter and the key is enough. With it off,
 * workers have none (a limiter costs every job three Redis commands: reading the key, counting
 * into it, and a look at the job; bench/CHANGES.md), so the pause also sets
 * {@link PAUSE_ONLY_LIMIT} for the queue and lifts it once the key has expired. A worker killed
 * mid-pause leaves the limit behind: it limits nothing (jobs only pay the three commands again)
 * until the next pause lifts it, or a worker starts ({@link liftIfOver}). A pause set by another
 * worker just as this one lifts the limit holds only that worker; the others meet the 429 in turn
 * and pause again.
 */
export class QueuePause {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queue: PokemonQueue,
    /** Whether the workers run with a limiter (RATE_LIMIT_PER_SECOND above 0). */
    private readonly workersHaveLimiter: boolean,
    private readonly log: Logger,
  ) {}

  async pauseFor(ms: number): Promise<void> {
    if (!this.workersHaveLimiter) await this.queue.setGlobalRateLimit(PAUSE_ONLY_LIMIT.max, PAUSE_ONLY_LIMIT.duration);
    await this.queue.rateLimit(ms);
    if (!this.workersHaveLimiter) this.liftAfter(ms);
  }

  /** Lifts a pause-only limit whose pause is over; one a user set is left alone. */
  async liftIfOver(): Promise<void> {
    const limit = await this.queue.getGlobalRateLimit();
    if (limit?.max !== PAUSE_ONLY_LIMIT.max || limit.duration !== PAUSE_ONLY_LIMIT.duration) return;
    const left = await this.queue.getRateLimitTtl(PAUSE_ONLY_LIMIT.max);
    if (left > 0) return this.liftAfter(left);
    await this.queue.removeGlobalRateLimit();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private liftAfter(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.liftIfOver().catch((err: Error) => this.log.debug({ err: err.message }, 'could not lift the pause-only rate limit; the next pause or worker start will'));
    }, ms + 50);
    this.timer.unref();
  }
}
