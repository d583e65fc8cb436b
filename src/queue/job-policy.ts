import type { JobsOptions } from 'bullmq';
import type { Config } from '../config/variables';
import { PokeApiError, RateLimitedError } from '../pokeapi/errors';
import { fetchPolicy } from '../pokeapi/fetch-policy';

/**
 * The failure policy, in one place: what becomes of a job for every way it can end, with the
 * retry, backoff and rate-limit settings that go with it. The HTTP side (which status or network
 * error is which {@link PokeApiError}) is src/pokeapi/fetch-policy.ts; this module turns those
 * errors into job actions, by class and code, never by message text.
 *
 * | outcome                                               | reason          | job action                                      |
 * |-------------------------------------------------------|-----------------|-------------------------------------------------|
 * | 200, this Pokémon                                     | —               | store the record, complete                       |
 * | id already stored (and no --refresh)                  | —               | complete from the store, no request              |
 * | 404                                                   | not_found       | fail at once                                     |
 * | 200 with another id, missing fields                   | bad_payload     | fail at once (with a body sample)                |
 * | other 4xx (400, 401, 403…)                            | http_status     | fail at once                                     |
 * | 429                                                   | rate_limited    | pause the WHOLE queue for Retry-After, back to waiting, no attempt used |
 * | 5xx, 408                                              | server_error    | retry with backoff, up to JOB_ATTEMPTS           |
 * | timeout, connection reset / refused                   | timeout, network| retry with backoff                               |
 * | truncated or non-JSON 200 body                        | bad_body        | retry with backoff                               |
 * | anything else thrown (a bug, Redis refusing a write)   | internal        | retry with backoff                               |
 * | the job crashed or hung every worker that ran it       | stalled         | failed by BullMQ itself after MAX_STALLED_COUNT takeovers |
 */

export type JobAction =
  /** Throw the error: BullMQ retries with exponential backoff until the attempts run out. */
  | { kind: 'retry'; reason: string }
  /** Fail now, whatever attempts are left (BullMQ UnrecoverableError). */
  | { kind: 'fail'; reason: string }
  /** Pause the whole queue (every worker everywhere) and put the job back, using no attempt. */
  | { kind: 'pause-queue'; reason: string; pauseMs: number };

/** The reason BullMQ's own failures are counted under: a job that crashed or hung every worker. */
export const STALLED_REASON = 'stalled';
/** The reason of anything thrown that is not a PokeApiError. */
export const INTERNAL_REASON = 'internal';

export function actionFor(err: unknown): JobAction {
  if (err instanceof RateLimitedError) return { kind: 'pause-queue', reason: err.reason, pauseMs: err.retryAfterMs };
  if (err instanceof PokeApiError) return err.retryable ? { kind: 'retry', reason: err.reason } : { kind: 'fail', reason: err.reason };
  return { kind: 'retry', reason: INTERNAL_REASON };
}

/**
 * A failure BullMQ decided without our processor: a job over MAX_STALLED_COUNT is marked with a
 * deferred failure (`job.deferredFailure`) and failed by the next worker that takes it.
 */
export function bullmqFailureReason(job: { deferredFailure?: string }): string | undefined {
  return job.deferredFailure ? STALLED_REASON : undefined;
}

/** Options every job gets: retries with jittered backoff, and bounded retention. */
export function jobOptions(config: Config): JobsOptions {
  return {
    attempts: config.jobAttempts,
    backoff: { type: 'exponential', delay: config.backoffMs, jitter: fetchPolicy.backoffJitter },
    // Records live in the store, so finished jobs are kept only for inspection, within bounds.
    removeOnComplete: { count: config.keepCompletedJobs },
    removeOnFail: { count: config.keepFailedJobs },
  };
}

/**
 * BullMQ's limiter is queue-wide (every worker shares one counter in Redis) and counts in fixed
 * windows, so "20 per 1000 ms" lets 20 start at the end of one window and 20 more at the start of
 * the next: 40 in one second. Ten times smaller windows keep any sliding second near the limit.
 * With the limit off (0) there is no limiter, and no Redis work for one per job; a 429's
 * queue-wide pause then works through a global limit set for the pause (queue-pause.ts).
 */
export function limiterFor(perSecond: number): { max: number; duration: number } | undefined {
  if (perSecond <= 0) return undefined;
  const max = Math.max(1, Math.floor(perSecond / 10));
  return { max, duration: Math.ceil((1000 * max) / perSecond) };
}
