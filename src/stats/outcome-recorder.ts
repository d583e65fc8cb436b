import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/connection';
import { keysFor, type Keys } from '../redis/keys';
import { bucketIndex } from './buckets';

/**
 * record-outcome: counts one finished job, once.
 *
 * KEYS[1] batch hash          KEYS[2] batch done set     KEYS[3] batch timings list
 * KEYS[4] batch failures hash KEYS[5] timings stream     KEYS[6] totals hash
 * ARGV[1] id        ARGV[2] outcome (completed|failed)   ARGV[3] failure reason ('' if none)
 * ARGV[4] wait ms   ARGV[5] fetch ms (-1: no fetch: served from the store, or failed)  ARGV[6] total ms
 * ARGV[7] worker id ARGV[8] now (ms epoch)  ARGV[9] stream max length  ARGV[10] ttl of batch keys (s)
 * ARGV[11] 1 if the job needed more than one attempt  ARGV[12] batch id
 * ARGV[13..15] histogram bucket index of wait, fetch, total
 *
 * Returns 1 when counted, 0 when this id was already counted for the batch (a job that ran twice:
 * BullMQ is at-least-once, the counters must not be).
 * Emits nothing; writes the batch counters, the batch timing list, the global stream and totals.
 */
const RECORD_OUTCOME = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local outcome = ARGV[2]
local ttl = tonumber(ARGV[10])
redis.call('HINCRBY', KEYS[1], outcome, 1)
if ARGV[11] == '1' then redis.call('HINCRBY', KEYS[1], 'retried', 1) end
if ARGV[5] == '-1' and outcome == 'completed' then redis.call('HINCRBY', KEYS[1], 'cached', 1) end
if outcome == 'failed' then
  redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
  redis.call('EXPIRE', KEYS[4], ttl)
  redis.call('HINCRBY', KEYS[6], 'failed:' .. ARGV[3], 1)
end
redis.call('RPUSH', KEYS[3], ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[9], '*',
  't', ARGV[8], 'o', outcome, 'r', ARGV[3], 'w', ARGV[4], 'f', ARGV[5], 'T', ARGV[6], 'k', ARGV[7], 'b', ARGV[12])
redis.call('HINCRBY', KEYS[6], outcome, 1)
redis.call('HINCRBY', KEYS[6], 'h:wait:' .. ARGV[13], 1)
redis.call('HINCRBYFLOAT', KEYS[6], 'sum:wait', ARGV[4])
if ARGV[5] ~= '-1' then
  redis.call('HINCRBY', KEYS[6], 'h:fetch:' .. ARGV[14], 1)
  redis.call('HINCRBYFLOAT', KEYS[6], 'sum:fetch', ARGV[5])
end
redis.call('HINCRBY', KEYS[6], 'h:total:' .. ARGV[15], 1)
redis.call('HINCRBYFLOAT', KEYS[6], 'sum:total', ARGV[6])
local b = redis.call('HMGET', KEYS[1], 'added', 'completed', 'failed')
if b[1] and (tonumber(b[2] or '0') + tonumber(b[3] or '0')) >= tonumber(b[1]) then
  redis.call('HSETNX', KEYS[1], 'finishedAt', ARGV[8])
end
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
return 1
`;

export interface OutcomeRecord {
  id: number;
  batchId: string;
  outcome: 'completed' | 'failed';
  reason?: string;
  waitMs: number;
  /** Undefined when the record was already in the store and nothing was fetched. */
  fetchMs?: number;
  totalMs: number;
  workerId: string;
  retried: boolean;
}

/** Keeps the last this-many finished jobs in the global stream: enough for an hour of charts at ~30/s. */
export const TIMING_STREAM_MAX_LEN = 100_000;
/** Batch keys are dropped a week after their last job. */
export const BATCH_TTL_SECONDS = 7 * 24 * 3600;

type WithScript = RedisClient & {
  pokequeueRecordOutcome(...args: (string | number)[]): Promise<number>;
};

/**
 * Writes what every process needs to see about finished jobs (batch counters, timings, totals)
 * into Redis in one atomic script call per job, so summaries, `/stats` and `/metrics` aggregate
 * over every worker on every machine.
 */
export class OutcomeRecorder {
  private readonly keys: Keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = keysFor(prefix);
    if (!(redis as unknown as Partial<WithScript>).pokequeueRecordOutcome) {
      redis.defineCommand('pokequeueRecordOutcome', { numberOfKeys: 6, lua: RECORD_OUTCOME });
    }
  }

  async record(o: OutcomeRecord): Promise<boolean> {
    const tx = this.redis.multi();
    this.queue(tx, o);
    const [[err, counted]] = ((await tx.exec()) ?? [[null, 0]]) as [Error | null, unknown][] as [[Error | null, unknown]];
    if (err) throw err;
    return counted === 1;
  }

  /**
   * Adds the record-outcome call to a transaction the caller executes, so a worker stores a
   * record and counts it in one round trip. The reply is 1 (counted) or 0 (already counted).
   */
  queue(tx: ChainableCommander, o: OutcomeRecord): void {
    const k = this.keys;
    const wait = Math.max(0, Math.round(o.waitMs));
    const fetch = o.fetchMs === undefined ? -1 : Math.max(0, Math.round(o.fetchMs));
    const total = Math.max(0, Math.round(o.totalMs));
    (tx as unknown as WithScript).pokequeueRecordOutcome(
      k.batch(o.batchId),
      k.batchDone(o.batchId),
      k.batchTimings(o.batchId),
      k.batchFailures(o.batchId),
      k.timings,
      k.totals,
      String(o.id),
      o.outcome,
      o.reason ?? '',
      wait,
      fetch,
      total,
      o.workerId,
      Date.now(),
      TIMING_STREAM_MAX_LEN,
      BATCH_TTL_SECONDS,
      o.retried ? '1' : '0',
      o.batchId,
      bucketIndex(wait),
      bucketIndex(Math.max(fetch, 0)),
      bucketIndex(total),
    );
  }

  /** A failed attempt that will be tried again: counted, never blocking the job. */
  async recordRetry(batchId: string, reason: string): Promise<void> {
    await this.redis
      .multi()
      .hincrby(this.keys.batch(batchId), 'retries', 1)
      .hincrby(this.keys.totals, 'retries', 1)
      .hincrby(this.keys.totals, `retry:${reason}`, 1)
      .exec();
  }
}
