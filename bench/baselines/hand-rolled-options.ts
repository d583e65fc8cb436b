/** The hand-rolled peer's job options (bench/baselines/hand-rolled.ts), shared with the bench that adds its jobs. */
export const HAND_ROLLED_JOB_OPTIONS = { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { count: 1000 } };
