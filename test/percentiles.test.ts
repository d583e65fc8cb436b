import { bucketIndex, DURATION_BUCKETS_MS } from '../src/stats/buckets';
import { percentiles } from '../src/stats/percentiles';

describe('percentiles', () => {
  it('uses nearest rank on 1..100', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });
  it('is all zeros for no samples', () => {
    expect(percentiles([])).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });
  it('gives the one value for a single sample', () => {
    expect(percentiles([42])).toMatchObject({ p50: 42, p99: 42, max: 42 });
  });
});

describe('histogram buckets', () => {
  it('puts a value in the first bucket whose bound holds it', () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(5)).toBe(0);
    expect(bucketIndex(6)).toBe(1);
    expect(bucketIndex(10_000_000)).toBe(DURATION_BUCKETS_MS.length);
  });
});
