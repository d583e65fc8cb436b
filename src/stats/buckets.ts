/**
 * Histogram bucket upper bounds, in milliseconds, shared by the recorder (which counts into
 * them in Redis) and the Prometheus exporter (which reports them as `le` seconds). Chosen to
 * cover a loopback simulator (ms) up to a job that waited minutes behind the rate limit.
 */
export const DURATION_BUCKETS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000,
] as const;

/** Index of the first bucket that holds `ms`; `DURATION_BUCKETS_MS.length` means +Inf. */
export function bucketIndex(ms: number): number {
  const i = DURATION_BUCKETS_MS.findIndex((le) => ms <= le);
  return i === -1 ? DURATION_BUCKETS_MS.length : i;
}

export const PHASES = ['wait', 'fetch', 'total'] as const;
export type Phase = (typeof PHASES)[number];
