/**
 * How a fetch can fail, as classes a caller can `instanceof`. The worker maps each to a queue
 * action in one place (see fetch-policy.ts); nothing else inspects status codes.
 */

/** Every failure of a PokeAPI fetch. `reason` is a short stable code used in summaries and metrics. */
export abstract class PokeApiError extends Error {
  abstract readonly reason: string;
  /** Whether trying again later may succeed. */
  abstract readonly retryable: boolean;
}

/** The API does not know this id (HTTP 404). Never retried. */
export class NotFoundError extends PokeApiError {
  override readonly name = 'NotFoundError';
  readonly reason = 'not_found';
  readonly retryable = false;
  constructor(readonly id: number) {
    super(`no Pokémon with id ${id}`);
  }
}

/**
 * A 200 whose body is not this Pokémon: wrong id, missing fields. Retrying would fetch the same
 * thing, so it fails at once, with a short sample of the body to show what came back.
 */
export class BadPayloadError extends PokeApiError {
  override readonly name = 'BadPayloadError';
  readonly reason = 'bad_payload';
  readonly retryable = false;
  constructor(message: string, readonly sample: string) {
    super(`${message}; body starts: ${sample}`);
  }
}

/**
 * A body over HTTP_MAX_WIRE_BYTES as it arrives, or over HTTP_MAX_BODY_BYTES once decompressed.
 * Reading or decoding stopped at the limit, so the worker's memory never held more; retrying
 * would fetch the same oversized answer, so it fails at once.
 */
export class TooLargeError extends PokeApiError {
  override readonly name = 'TooLargeError';
  readonly reason = 'too_large';
  readonly retryable = false;
}

/**
 * The list endpoint (read for `all` and to look up names) answered something that cannot be
 * trusted as a list of Pokémon: a `next` off the configured origin or in a loop, too many pages,
 * an entry that is not an id, a 404. Nothing is enqueued when it is thrown (exit 2).
 */
export class BadListError extends PokeApiError {
  override readonly name = 'BadListError';
  readonly reason = 'bad_list';
  readonly retryable = false;
}

/**
 * The list endpoint could not be read at all (for `all`, or to look up a name): the API did not
 * answer, timed out, or kept failing. `cause` is the fetch's own error. Nothing is enqueued when
 * it is thrown (exit 1: trying again later may work).
 */
export class PokeApiUnavailableError extends PokeApiError {
  override readonly name = 'PokeApiUnavailableError';
  readonly reason = 'unavailable';
  readonly retryable = true;
}

/** The API asked us to slow down (HTTP 429). Handled by pausing the whole queue; uses no attempt. */
export class RateLimitedError extends PokeApiError {
  override readonly name = 'RateLimitedError';
  readonly reason = 'rate_limited';
  readonly retryable = true;
  constructor(readonly retryAfterMs: number) {
    super(`rate limited by the API; pausing the queue for ${retryAfterMs} ms`);
  }
}

/**
 * A failure that may pass: 5xx, timeouts, connection resets, a truncated or non-JSON body.
 * Retried with exponential backoff and jitter until the job's attempts run out.
 */
export class TransientFetchError extends PokeApiError {
  override readonly name = 'TransientFetchError';
  readonly retryable = true;
  constructor(
    readonly reason: 'server_error' | 'timeout' | 'network' | 'bad_body' | 'http_status',
    message: string,
  ) {
    super(message);
  }
}

/** Any other non-2xx (400, 401, 403, ...): a request we should not repeat. */
export class UnexpectedStatusError extends PokeApiError {
  override readonly name = 'UnexpectedStatusError';
  readonly reason = 'http_status';
  readonly retryable = false;
  constructor(readonly status: number, sample: string) {
    super(`unexpected HTTP ${status}; body starts: ${sample}`);
  }
}
