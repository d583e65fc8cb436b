/**
 * The coarse duration buckets, in milliseconds, of the Prometheus histogram
 * (`pokequeue_job_duration_seconds`, reported as `le` seconds) and of the `/stats` latency chart.
 * Chosen to cover a loopback simulator (ms) up to a job that waited minutes behind the rate
 * limit. Each has two significant digits, so they are derived exactly from the fine histograms
 * (histogram.ts).
 */
export const DURATION_BUCKETS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000,
] as const;
