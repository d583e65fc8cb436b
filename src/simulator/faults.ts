/**
 * The simulator's fault model: which requests for a Pokémon get a broken answer, and which kind.
 *
 * Two ways to ask for faults, usable together:
 * - **rates**: each request independently gets a fault with the given probabilities. The draw is
 *   a hash of (`faultSeed`, id, how many times that id was requested), not a shared random
 *   stream, so a given seed breaks the same attempts of the same ids however requests interleave.
 * - **failFirst**: each id's first N requests get `failFirstKind`, the later ones go on to the
 *   rates (which default to 0, so they succeed). This is the one tests rely on: "the worker
 *   retries a 500 twice, then stores the Pokémon".
 *
 * `faultIds` restricts both to some ids. Only `/api/v2/pokemon/{id or name}` requests are
 * faulted; the list endpoint and the `/__sim/*` routes never are.
 */

/**
 * - `500`: 500 with a plain-text body.
 * - `429`: 429 with a `Retry-After` header (unless `retryAfterSeconds` is null).
 * - `hang`: the request is accepted and never answered, until the client gives up or the
 *   simulator closes.
 * - `reset`: a 200 with full headers and half the body, then the socket is destroyed.
 * - `truncate`: a complete 200 whose JSON is cut in half (`content-length` matches what is sent),
 *   so only parsing it fails.
 * - `slow`: the correct body, trickled in chunks over `slowBodyMs`.
 * - `html`: a 200 with a `text/html` page, as a CDN or proxy error page would be.
 * - `wrong-id`: a 200 with another id's payload.
 */
export type FaultKind = '500' | '429' | 'hang' | 'reset' | 'truncate' | 'slow' | 'html' | 'wrong-id';

export const FAULT_KINDS: readonly FaultKind[] = ['500', '429', 'hang', 'reset', 'truncate', 'slow', 'html', 'wrong-id'];

/** Thrown at once, before anything listens, for an option out of its range. */
export class InvalidSimulatorOptionError extends Error {
  override readonly name = 'InvalidSimulatorOptionError';

  constructor(
    /** The option's name as in {@link FaultOptions} or `SimulatorOptions`, e.g. `errorRate`. */
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}

export interface FaultOptions {
  /**
   * Share of requests answered 500 (0..1).
   * @defaultValue 0
   */
  readonly errorRate?: number;
  /**
   * Share of requests answered 429 (0..1).
   * @defaultValue 0
   */
  readonly rateLimitRate?: number;
  /**
   * `Retry-After` seconds sent with every 429 (rates and failFirst alike); `null` sends none, as
   * some proxies do, so clients must cope without it.
   * @defaultValue 1
   */
  readonly retryAfterSeconds?: number | null;
  /**
   * Share of requests that are never answered (0..1).
   * @defaultValue 0
   */
  readonly hangRate?: number;
  /**
   * Share of requests whose socket is destroyed mid-body (0..1).
   * @defaultValue 0
   */
  readonly resetRate?: number;
  /**
   * Share of requests answered 200 with half the JSON (0..1).
   * @defaultValue 0
   */
  readonly truncateRate?: number;
  /**
   * Share of requests whose body is trickled over `slowBodyMs` (0..1).
   * @defaultValue 0
   */
  readonly slowBodyRate?: number;
  /**
   * How long a slow body takes from first to last byte, in milliseconds.
   * @defaultValue 2000
   */
  readonly slowBodyMs?: number;
  /**
   * Share of requests answered 200 with an HTML page (0..1).
   * @defaultValue 0
   */
  readonly htmlRate?: number;
  /**
   * Share of requests answered 200 with another id's payload (0..1).
   * @defaultValue 0
   */
  readonly wrongIdRate?: number;
  /**
   * Seed of the rate draws; the same seed faults the same attempts of the same ids.
   * @defaultValue 1
   */
  readonly faultSeed?: number;
  /**
   * Each id's first N requests get `failFirstKind`; requests after that go on to the rates.
   * @defaultValue 0
   */
  readonly failFirst?: number;
  /**
   * The fault `failFirst` applies.
   * @defaultValue '500'
   */
  readonly failFirstKind?: FaultKind;
  /**
   * Only these ids are ever faulted; requests for any other id always succeed.
   * @defaultValue undefined (every id may be faulted)
   */
  readonly faultIds?: readonly number[];
}

/** Fault options with every default filled in. */
export type ResolvedFaultOptions = Required<Omit<FaultOptions, 'faultIds' | 'retryAfterSeconds'>> & {
  readonly retryAfterSeconds: number | null;
  readonly faultIds: ReadonlySet<number> | null;
};

/** Rate options in the order a draw walks them; the order is part of what a seed reproduces. */
type RateOption =
  | 'errorRate'
  | 'rateLimitRate'
  | 'hangRate'
  | 'resetRate'
  | 'truncateRate'
  | 'slowBodyRate'
  | 'htmlRate'
  | 'wrongIdRate';

const RATE_OPTIONS: readonly [RateOption, FaultKind][] = [
  ['errorRate', '500'],
  ['rateLimitRate', '429'],
  ['hangRate', 'hang'],
  ['resetRate', 'reset'],
  ['truncateRate', 'truncate'],
  ['slowBodyRate', 'slow'],
  ['htmlRate', 'html'],
  ['wrongIdRate', 'wrong-id'],
];

/** Checks every fault option and fills in defaults; throws {@link InvalidSimulatorOptionError}. */
export function resolveFaultOptions(opts: FaultOptions): ResolvedFaultOptions {
  let rateSum = 0;
  for (const [option] of RATE_OPTIONS) {
    const rate = opts[option] ?? 0;
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new InvalidSimulatorOptionError(option, `must be a number from 0 to 1 (got ${String(rate)})`);
    }
    rateSum += rate;
  }
  // A little slack: 0.1 + 0.2 + 0.7 must not be rejected for floating-point noise.
  if (rateSum > 1 + 1e-9) {
    throw new InvalidSimulatorOptionError('errorRate', `fault rates add up to ${rateSum}, more than 1`);
  }
  const retryAfterSeconds = opts.retryAfterSeconds === undefined ? 1 : opts.retryAfterSeconds;
  if (retryAfterSeconds !== null && !isNonNegativeInteger(retryAfterSeconds)) {
    throw new InvalidSimulatorOptionError(
      'retryAfterSeconds',
      `must be a non-negative integer or null (got ${String(retryAfterSeconds)})`,
    );
  }
  const slowBodyMs = opts.slowBodyMs ?? 2000;
  if (typeof slowBodyMs !== 'number' || !Number.isFinite(slowBodyMs) || slowBodyMs < 0) {
    throw new InvalidSimulatorOptionError('slowBodyMs', `must be a non-negative number (got ${String(slowBodyMs)})`);
  }
  const faultSeed = opts.faultSeed ?? 1;
  if (!Number.isSafeInteger(faultSeed)) {
    throw new InvalidSimulatorOptionError('faultSeed', `must be an integer (got ${String(faultSeed)})`);
  }
  const failFirst = opts.failFirst ?? 0;
  if (!isNonNegativeInteger(failFirst)) {
    throw new InvalidSimulatorOptionError('failFirst', `must be a non-negative integer (got ${String(failFirst)})`);
  }
  const failFirstKind = opts.failFirstKind ?? '500';
  if (!FAULT_KINDS.includes(failFirstKind)) {
    throw new InvalidSimulatorOptionError(
      'failFirstKind',
      `must be one of ${FAULT_KINDS.join(', ')} (got ${String(failFirstKind)})`,
    );
  }
  let faultIds: Set<number> | null = null;
  if (opts.faultIds !== undefined) {
    if (!Array.isArray(opts.faultIds) || !opts.faultIds.every((id) => Number.isSafeInteger(id) && id > 0)) {
      throw new InvalidSimulatorOptionError('faultIds', 'must be an array of positive integer ids');
    }
    faultIds = new Set(opts.faultIds);
  }
  return {
    errorRate: opts.errorRate ?? 0,
    rateLimitRate: opts.rateLimitRate ?? 0,
    hangRate: opts.hangRate ?? 0,
    resetRate: opts.resetRate ?? 0,
    truncateRate: opts.truncateRate ?? 0,
    slowBodyRate: opts.slowBodyRate ?? 0,
    htmlRate: opts.htmlRate ?? 0,
    wrongIdRate: opts.wrongIdRate ?? 0,
    retryAfterSeconds,
    slowBodyMs,
    faultSeed,
    failFirst,
    failFirstKind,
    faultIds,
  };
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Decides each request's fault. It counts requests per key itself (an id, or the name asked for
 * when no id is known), so that count survives `/__sim/reset`: resetting the statistics does not
 * hand an id a fresh set of `failFirst` failures.
 */
export class FaultPlan {
  private readonly attempts = new Map<string, number>();

  constructor(private readonly options: ResolvedFaultOptions) {}

  /**
   * The fault for the next request of `key`, or null to answer normally.
   * @param id the id the request resolves to, if any; `faultIds` matches against it.
   */
  next(key: string, id: number | undefined): FaultKind | null {
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const { faultIds, failFirst, failFirstKind } = this.options;
    if (faultIds && (id === undefined || !faultIds.has(id))) return null;
    if (attempt <= failFirst) return failFirstKind;

    let u = unitHash(this.options.faultSeed, key, attempt);
    for (const [option, kind] of RATE_OPTIONS) {
      const rate = this.options[option];
      if (u < rate) return kind;
      u -= rate;
    }
    return null;
  }
}

/** A uniform number in [0, 1) from (seed, key, attempt): FNV-1a, then a murmur3 finalizer. */
function unitHash(seed: number, key: string, attempt: number): number {
  let h = 0x811c9dc5 ^ (seed | 0) ^ Math.floor(seed / 2 ** 32);
  const text = `${key}#${attempt}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
