import { NotFoundError, RateLimitedError, TransientFetchError, UnexpectedStatusError } from '../src/pokeapi/errors';
import { classifyNetworkError, errorForStatus, fetchPolicy, retryAfterMs } from '../src/pokeapi/fetch-policy';

describe('the fetch policy', () => {
  it('treats a 404 as final: not found, not retryable', () => {
    const err = errorForStatus(99999, 404, {}, 'Not Found');
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).retryable).toBe(false);
    expect(err.message).toBe('no Pokémon with id 99999');
  });

  it('retries 5xx and 408', () => {
    for (const status of [500, 502, 503, 504, 408]) {
      const err = errorForStatus(1, status, {}, '');
      expect(err).toBeInstanceOf(TransientFetchError);
      expect((err as TransientFetchError).retryable).toBe(true);
    }
  });

  it('does not retry other client errors', () => {
    expect(errorForStatus(1, 400, {}, 'bad')).toBeInstanceOf(UnexpectedStatusError);
    expect(errorForStatus(1, 403, {}, 'no')).toBeInstanceOf(UnexpectedStatusError);
  });

  it('turns a 429 into a queue pause of Retry-After', () => {
    const err = errorForStatus(1, 429, { 'retry-after': '3' }, '');
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(3000);
  });

  describe('Retry-After', () => {
    it('reads delay-seconds', () => expect(retryAfterMs('2')).toBe(2000));
    it('reads an HTTP date', () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    });
    it('falls back to the default pause when absent or junk', () => {
      expect(retryAfterMs(undefined)).toBe(fetchPolicy.defaultRateLimitPauseMs);
      expect(retryAfterMs('soon')).toBe(fetchPolicy.defaultRateLimitPauseMs);
    });
    it('caps a huge value', () => expect(retryAfterMs('86400')).toBe(fetchPolicy.maxRetryAfterMs));
  });

  it('classifies undici timeouts and resets as transient', () => {
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' })).reason).toBe('timeout');
    expect(classifyNetworkError(Object.assign(new Error('x'), { name: 'TimeoutError' })).reason).toBe('timeout');
    expect(classifyNetworkError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })).reason).toBe('network');
    expect(classifyNetworkError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).retryable).toBe(true);
  });
});
