/**
 * Duration histograms with a stated relative error, so percentiles cost O(buckets) however many
 * jobs they describe, and histograms from many workers (and many flushes) add up exactly.
 *
 * Buckets, in whole milliseconds (durations are rounded up to the next millisecond):
 * - 0 to 99 ms: one bucket per millisecond, exact;
 * - from 100 ms: values rounded UP to two significant digits, so the buckets' upper bounds are
 *   100, 110, 120, … 990, 1000, 1100, … The widest bucket, (1000, 1100] and its like, is 10% of
 *   its value wide; a percentile read from a bucket is its midpoint, so it is within
 *   {@link HISTOGRAM_RELATIVE_ERROR} of the true value, and never above the largest value seen.
 *
 * Every Prometheus bucket bound of `pokequeue_job_duration_seconds` (5 ms … 900 s) has two
 * significant digits, so the coarse Prometheus histogram is derived from these buckets exactly.
 * Each bucket is named by its upper bound, so stored counts stay readable if the scheme changes.
 */

/** A percentile read from these histograms is within this fraction of the exact nearest-rank value. */
export const HISTOGRAM_RELATIVE_ERROR = 0.05;

/** Longest duration with a bucket of its own (about 2.8 h); anything longer counts in this one. */
export const HISTOGRAM_MAX_MS = 9_900_000;

/** The upper bound (ms) of the bucket that holds `ms`: the bucket's name. */
export function bucketUpperBound(ms: number): number {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 100) return v;
  if (v >= HISTOGRAM_MAX_MS) return HISTOGRAM_MAX_MS;
  const scale = 10 ** (Math.floor(Math.log10(v)) - 1);
  // Floating-point: 1e3 / 10 may land a hair above 100; the second ceil puts it back.
  let m = Math.ceil(v / scale - 1e-9);
  if (m >= 100) return 10 * scale * 10;
  if (m < 10) m = 10;
  return m * scale;
}

/** The largest value that falls in the bucket just below this one's (its exclusive lower bound). */
export function bucketLowerBound(upper: number): number {
  if (upper <= 100) return upper - 1;
  const scale = 10 ** (Math.floor(Math.log10(upper)) - 1);
  const m = Math.round(upper / scale);
  return m === 10 ? upper - scale / 10 : upper - scale;
}

/** The summary of a histogram every view prints: nearest-rank percentiles, as before. */
export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Sparse bucket counts plus count, sum and max: what one phase (wait, fetch or total) holds. */
export class Histogram {
  /** Bucket upper bound (ms) → count. */
  readonly buckets = new Map<number, number>();
  count = 0;
  sumMs = 0;
  maxMs = 0;

  add(ms: number, times = 1): void {
    const v = Math.max(0, Math.ceil(ms));
    const ub = bucketUpperBound(v);
    this.buckets.set(ub, (this.buckets.get(ub) ?? 0) + times);
    this.count += times;
    this.sumMs += v * times;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** Adds counts already bucketed elsewhere (another worker's flush, a stored hash). */
  addBucket(upperBound: number, count: number): void {
    if (count <= 0) return;
    this.buckets.set(upperBound, (this.buckets.get(upperBound) ?? 0) + count);
    this.count += count;
  }

  merge(other: Histogram): this {
    for (const [ub, n] of other.buckets) this.addBucket(ub, n);
    this.sumMs += other.sumMs;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
    return this;
  }

  /** The nearest-rank `p`th percentile (0–100), within {@link HISTOGRAM_RELATIVE_ERROR}. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    let seen = 0;
    for (const ub of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(ub)!;
      if (seen >= rank) return this.representative(ub);
    }
    return this.maxMs;
  }

  percentiles(): Percentiles {
    if (this.count === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    const max = this.maxMs || this.representative(Math.max(...this.buckets.keys()));
    return { count: this.count, p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99), max };
  }

  /** Counts per bound in `bounds` (ascending), not cumulative; the last entry is beyond them all. */
  countsWithin(bounds: readonly number[]): number[] {
    const out = new Array<number>(bounds.length + 1).fill(0);
    for (const [ub, n] of this.buckets) {
      const i = bounds.findIndex((b) => ub <= b);
      out[i === -1 ? bounds.length : i]! += n;
    }
    return out;
  }

  private representative(ub: number): number {
    if (ub < 100) return ub;
    const mid = (bucketLowerBound(ub) + ub) / 2;
    return this.maxMs > 0 ? Math.min(mid, this.maxMs) : mid;
  }
}
