import { printable } from '../printable';
import { RateLimitedError, TransientFetchError, UnexpectedStatusError, NotFoundError } from './errors';

/**
 * The fetch policy, in one place: what each outcome of a request means for the job.
 *
 * | outcome                                   | job action                                      |
 * |-------------------------------------------|-------------------------------------------------|
 * | 200 + body that is this Pokémon           | store the record                                 |
 * | 404                                       | fail at once ("no Pokémon with id N"), no retry  |
 * | 429                                       | pause the whole queue for Retry-After, no attempt used |
 * | 5xx, 408, timeout, reset, bad/cut body    | retry: exponential backoff with jitter, up to JOB_ATTEMPTS |
 * | 200 + body of another id / missing fields | fail at once with a body sample                  |
 * | any other status                          | fail at once                                     |
 */
export const fetchPolicy = {
  /** Retry-After is honoured up to this cap, so one odd header cannot park the queue for a day. */
  maxRetryAfterMs: 60_000,
  /** Pause used for a 429 without a usable Retry-After header. */
  defaultRateLimitPauseMs: 1_000,
  /** Share of the backoff delay that is random, so retrying workers spread out. */
  backoffJitter: 0.5,
  /** How much of a bad body an error message quotes. */
  bodySampleChars: 120,
} as const;

/** Turns a non-200 status into the error the policy assigns to it. */
export function errorForStatus(
  id: number,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodySample: string,
  now = Date.now(),
): Error {
  if (status === 404) return new NotFoundError(id);
  if (status === 429) return new RateLimitedError(retryAfterMs(headers['retry-after'], now));
  if (status >= 500 || status === 408) {
    return new TransientFetchError('server_error', `HTTP ${status} from the API`);
  }
  return new UnexpectedStatusError(status, bodySample);
}

/** Retry-After as delay-seconds or an HTTP date, capped; the default pause when absent or junk. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return fetchPolicy.defaultRateLimitPauseMs;
  let ms: number;
  if (/^\d+$/.test(value.trim())) ms = Number(value.trim()) * 1000;
  else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return fetchPolicy.defaultRateLimitPauseMs;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), fetchPolicy.maxRetryAfterMs) || fetchPolicy.defaultRateLimitPauseMs;
}

/** Maps low-level errors from undici (timeouts, resets) to the policy's transient error. */
export function classifyNetworkError(err: unknown): TransientFetchError {
  const e = err as { code?: string; name?: string; message?: string };
  const code = e?.code ?? '';
  const message = e?.message ?? String(err);
  if (
    e?.name === 'TimeoutError' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'ETIMEDOUT'
  ) {
    return new TransientFetchError('timeout', `request timed out (${code || e?.name})`);
  }
  return new TransientFetchError('network', `network error: ${code ? `${code} ` : ''}${message}`);
}

/**
 * The start of a body, for an error message: whitespace flattened, cut short, and any control
 * character shown as an escape, since error messages reach terminals (logs, `--wait`, bull-board).
 */
export function sample(text: string): string {
  // Only the start is looked at: a 4 MB body needs no whitespace pass over all of it.
  const head = text.slice(0, fetchPolicy.bodySampleChars * 4);
  const flat = head.replace(/\s+/g, ' ').trim();
  const cut = flat.length > fetchPolicy.bodySampleChars || head.length < text.length;
  return cut ? `${printable(flat.slice(0, fetchPolicy.bodySampleChars))}…` : printable(flat) || '(empty)';
}
