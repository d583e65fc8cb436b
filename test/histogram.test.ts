import { DURATION_BUCKETS_MS } from '../src/stats/buckets';
import { bucketLowerBound, bucketUpperBound, Histogram, HISTOGRAM_MAX_MS, HISTOGRAM_RELATIVE_ERROR } from '../src/stats/histogram';

/** Exact nearest-rank percentile, the definition the histograms approximate. */
function exact(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A deterministic pseudo-random stream (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('duration histograms', () => {
  it('keep every whole millisecond below 100 in a bucket of its own', () => {
    for (let ms = 0; ms < 100; ms++) expect(bucketUpperBound(ms)).toBe(ms);
    expect(bucketUpperBound(4.2)).toBe(5); // rounded up to the next millisecond
  });

  it('round larger values up to two significant digits, with contiguous buckets', () => {
    expect([100, 101, 110, 111, 999, 1000, 1001, 25_000, 25_001, 899_999].map(bucketUpperBound)).toEqual([
      100, 110, 110, 120, 1000, 1000, 1100, 25_000, 26_000, 900_000,
    ]);
    expect(bucketUpperBound(HISTOGRAM_MAX_MS * 10)).toBe(HISTOGRAM_MAX_MS);
    // Each bucket starts where the one below it ends.
    for (let ms = 100; ms < 200_000; ms += 7) {
      const ub = bucketUpperBound(ms);
      expect(bucketLowerBound(ub)).toBeLessThan(ms);
      expect(bucketUpperBound(bucketLowerBound(ub))).toBeLessThan(ub);
    }
  });

  it.each([1, 2, 3])('give percentiles within the stated relative error (seed %i)', (seed) => {
    const rand = random(seed);
    // Log-uniform from 1 ms to 10 minutes: every bucket size gets exercised.
    const values = Array.from({ length: 20_000 }, () => Math.ceil(Math.exp(rand() * Math.log(600_000))));
    const h = new Histogram();
    for (const v of values) h.add(v);
    for (const p of [50, 90, 95, 99, 99.9]) {
      const want = exact(values, p);
      expect(Math.abs(h.percentile(p) - want)).toBeLessThanOrEqual(want * HISTOGRAM_RELATIVE_ERROR);
    }
    expect(h.percentiles().max).toBe(Math.max(...values));
    expect(h.count).toBe(values.length);
    expect(h.sumMs).toBe(values.reduce((a, b) => a + b, 0));
  });

  it('add up exactly: the merge of two histograms is the histogram of both samples', () => {
    const rand = random(7);
    const a = Array.from({ length: 5000 }, () => Math.floor(rand() * 5000));
    const b = Array.from({ length: 3000 }, () => Math.floor(rand() * 90_000));
    const ha = new Histogram();
    const hb = new Histogram();
    const both = new Histogram();
    for (const v of a) (ha.add(v), both.add(v));
    for (const v of b) (hb.add(v), both.add(v));
    const merged = ha.merge(hb);
    expect([...merged.buckets].sort()).toEqual([...both.buckets].sort());
    expect(merged.percentiles()).toEqual(both.percentiles());
  });

  it('yield the coarse Prometheus buckets exactly', () => {
    const values = [0, 5, 6, 10, 11, 25, 26, 99, 100, 101, 250, 251, 999, 1000, 30_000, 30_001, 900_000, 900_001, 5_000_000];
    const h = new Histogram();
    for (const v of values) h.add(v);
    const counts = h.countsWithin(DURATION_BUCKETS_MS);
    const expected = new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0);
    for (const v of values) {
      const i = DURATION_BUCKETS_MS.findIndex((le) => v <= le);
      expected[i === -1 ? DURATION_BUCKETS_MS.length : i]!++;
    }
    expect(counts).toEqual(expected);
  });

  it('are empty-safe', () => {
    expect(new Histogram().percentiles()).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });
});
