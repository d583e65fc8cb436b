import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/connection';
import { keysFor, type Keys } from '../redis/keys';
import { bucketIndex } from './buckets';

/**
 * record-outcomes: counts finished jobs, each once. One call carries any number of jobs, so a
 * worker that finishes several in the same event-loop turn pays one script call for all of them.
 *
 * KEYS[1] timings stream  KEYS[2] totals hash
 * then per job j (0-based), KEYS[3+4j .. 6+4j]: batch hash, batch done set, batch timings list,
 *   batch failures hash
 * ARGV[1] now (ms epoch)  ARGV[2] stream max length  ARGV[3] ttl of batch keys (s)
 * ARGV[4] the channel that hears "<batch id>" when a batch finishes
 * then per job j, ARGV[5+12j .. 16+12j]: id, outcome (completed|failed), failure reason ('' if
 *   none), wait ms, fetch ms (-1: no fetch: served from the store, or failed), total ms,
 *   worker id, 1 if the job needed more than one attempt, batch id, and the histogram bucket
 *   index of wait, fetch, total
 *
 * Returns one number per job: 1 when counted, 0 when that id was already counted for its batch
 * (a job that ran twice: BullMQ is at-least-once, the counters must not be).
 * Writes the batch counters, the batch timing lists, the global stream and totals; publishes the
 * batch id on ARGV[4] when this call finishes its batch, so `--wait` need not poll for the end.
 */
const RECORD_OUTCOMES = `
local now, maxlen, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
local n = (#ARGV - 4) / 12
for j = 0, n - 1 do
  local a, k = 4 + 12 * j, 2 + 4 * j
  local id, outcome, reason = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local wait, fetch, total = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local batch, done, timings, failures = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  if redis.call('SADD', done, id) == 0 then
    out[j + 1] = 0
  else
    redis.call('HINCRBY', batch, outcome, 1)
    if ARGV[a + 8] == '1' then redis.call('HINCRBY', batch, 'retried', 1) end
    if fetch == '-1' and outcome == 'completed' then redis.call('HINCRBY', batch, 'cached', 1) end
    if outcome == 'failed' then
      redis.call('HINCRBY', failures, reason, 1)
      redis.call('EXPIRE', failures, ttl)
      redis.call('HINCRBY', KEYS[2], 'failed:' .. reason, 1)
    end
    redis.call('RPUSH', timings, wait .. ' ' .. fetch .. ' ' .. total)
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*',
      't', now, 'o', outcome, 'r', reason, 'w', wait, 'f', fetch, 'T', total, 'k', ARGV[a + 7], 'b', ARGV[a + 9])
    redis.call('HINCRBY', KEYS[2], outcome, 1)
    redis.call('HINCRBY', KEYS[2], 'h:wait:' .. ARGV[a + 10], 1)
    redis.call('HINCRBYFLOAT', KEYS[2], 'sum:wait', wait)
    if fetch ~= '-1' then
      redis.call('HINCRBY', KEYS[2], 'h:fetch:' .. ARGV[a + 11], 1)
      redis.call('HINCRBYFLOAT', KEYS[2], 'sum:fetch', fetch)
    end
    redis.call('HINCRBY', KEYS[2], 'h:total:' .. ARGV[a + 12], 1)
    redis.call('HINCRBYFLOAT', KEYS[2], 'sum:total', total)
    local b = redis.call('HMGET', batch, 'added', 'completed', 'failed')
    if b[1] and (tonumber(b[2] or '0') + tonumber(b[3] or '0')) >= tonumber(b[1]) then
      if redis.call('HSETNX', batch, 'finishedAt', now) == 1 then redis.call('PUBLISH', ARGV[4], ARGV[a + 9]) end
    end
    redis.call('EXPIRE', done, ttl)
    redis.call('EXPIRE', timings, ttl)
    out[j + 1] = 1
  end
end
return out
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
  pokequeueRecordOutcomes(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

/**
 * Writes what every process needs to see about finished jobs (batch counters, timings, totals)
 * into Redis with one atomic script call, so summaries, `/stats` and `/metrics` aggregate over
 * every worker on every machine.
 */
export class OutcomeRecorder {
  private readonly keys: Keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = keysFor(prefix);
    if (!(redis as unknown as Partial<WithScript>).pokequeueRecordOutcomes) {
      // The key count varies with the number of jobs, so it is passed with each call.
      redis.defineCommand('pokequeueRecordOutcomes', { lua: RECORD_OUTCOMES });
    }
  }

  async record(o: OutcomeRecord): Promise<boolean> {
    const tx = this.redis.multi();
    this.queue(tx, [o]);
    const [[err, counted]] = ((await tx.exec()) ?? [[null, [0]]]) as [Error | null, unknown][] as [[Error | null, number[]]];
    if (err) throw err;
    return counted[0] === 1;
  }

  /**
   * Adds one record-outcomes call for `outcomes` to a transaction the caller executes, so a
   * worker stores records and counts them in one round trip. The reply holds one number per
   * outcome, in order: 1 (counted) or 0 (already counted).
   */
  queue(tx: ChainableCommander, outcomes: readonly OutcomeRecord[]): void {
    const k = this.keys;
    const keys: string[] = [k.timings, k.totals];
    const args: (string | number)[] = [Date.now(), TIMING_STREAM_MAX_LEN, BATCH_TTL_SECONDS, k.batchFinishedChannel];
    for (const o of outcomes) {
      const wait = Math.max(0, Math.round(o.waitMs));
      const fetch = o.fetchMs === undefined ? -1 : Math.max(0, Math.round(o.fetchMs));
      const total = Math.max(0, Math.round(o.totalMs));
      keys.push(k.batch(o.batchId), k.batchDone(o.batchId), k.batchTimings(o.batchId), k.batchFailures(o.batchId));
      args.push(
        String(o.id), o.outcome, o.reason ?? '', wait, fetch, total, o.workerId, o.retried ? '1' : '0', o.batchId,
        bucketIndex(wait), bucketIndex(Math.max(fetch, 0)), bucketIndex(total),
      );
    }
    (tx as unknown as WithScript).pokequeueRecordOutcomes(keys.length, ...keys, ...args);
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
