import type { RedisClient } from '../redis/connection';

/**
 * classify-ids: what the producer must do with each id, for thousands of ids in one call
 * (a pipeline of two commands per id cost 4x as long at 100,000 ids).
 *
 * KEYS[1] the records hash
 * ARGV[1] the job key prefix (`<prefix>:pokemon:pokemon-`)   ARGV[2] '1' when refreshing
 * ARGV[3..] ids
 * Returns one code per id: 0 = neither stored nor queued, 1 = stored (skip), 2 = a job exists.
 * Job keys are built here rather than declared: like BullMQ's own scripts, this relies on the
 * prefix putting them in the records hash's slot (a {hash-tag} on a cluster).
 * Reads only; emits nothing.
 */
const CLASSIFY_IDS = `
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if ARGV[2] ~= '1' and redis.call('HEXISTS', KEYS[1], id) == 1 then
    out[#out + 1] = 1
  elseif redis.call('EXISTS', ARGV[1] .. id) == 1 then
    out[#out + 1] = 2
  else
    out[#out + 1] = 0
  end
end
return out
`;

/**
 * ids-owned-elsewhere: which of the ids a batch just added carry another batch's id, because a
 * racing producer's job with the same job id was there first.
 *
 * KEYS[1] the records hash: not read, only declared so that a cluster routes the call to the node
 *         owning the prefix's slot (a script with no keys goes to any node)
 * ARGV[1] the job key prefix   ARGV[2] the batch marker (`"batchId":"<id>"`)   ARGV[3..] ids
 * Returns the ids whose job data lacks the marker (a job already removed counts as ours).
 * Reads only; emits nothing.
 */
const IDS_OWNED_ELSEWHERE = `
local lost = {}
for i = 3, #ARGV do
  local data = redis.call('HGET', ARGV[1] .. ARGV[i], 'data')
  if data and not string.find(data, ARGV[2], 1, true) then lost[#lost + 1] = ARGV[i] end
end
return lost
`;

type WithScripts = {
  pokequeueClassifyIds(recordsKey: string, jobKeyPrefix: string, refresh: string, ...ids: string[]): Promise<number[]>;
  pokequeueIdsOwnedElsewhere(routingKey: string, jobKeyPrefix: string, marker: string, ...ids: string[]): Promise<string[]>;
};

/** How many ids one script call takes: long enough to amortize, short enough not to block Redis. */
const SCRIPT_CHUNK = 5000;

export class EnqueueScripts {
  constructor(private readonly redis: RedisClient) {
    const r = redis as unknown as Partial<WithScripts>;
    if (!r.pokequeueClassifyIds) redis.defineCommand('pokequeueClassifyIds', { numberOfKeys: 1, lua: CLASSIFY_IDS });
    if (!r.pokequeueIdsOwnedElsewhere) redis.defineCommand('pokequeueIdsOwnedElsewhere', { numberOfKeys: 1, lua: IDS_OWNED_ELSEWHERE });
  }

  async classify(recordsKey: string, jobKeyPrefix: string, refresh: boolean, ids: readonly number[]): Promise<{ stored: number[]; queued: number[]; fresh: number[] }> {
    const r = this.redis as unknown as WithScripts;
    const out = { stored: [] as number[], queued: [] as number[], fresh: [] as number[] };
    for (let i = 0; i < ids.length; i += SCRIPT_CHUNK) {
      const chunk = ids.slice(i, i + SCRIPT_CHUNK);
      const codes = await r.pokequeueClassifyIds(recordsKey, jobKeyPrefix, refresh ? '1' : '0', ...chunk.map(String));
      codes.forEach((code, j) => (code === 1 ? out.stored : code === 2 ? out.queued : out.fresh).push(chunk[j]!));
    }
    return out;
  }

  async ownedElsewhere(recordsKey: string, jobKeyPrefix: string, batchId: string, ids: readonly number[]): Promise<number[]> {
    const r = this.redis as unknown as WithScripts;
    const lost: number[] = [];
    for (let i = 0; i < ids.length; i += SCRIPT_CHUNK) {
      const chunk = ids.slice(i, i + SCRIPT_CHUNK).map(String);
      lost.push(...(await r.pokequeueIdsOwnedElsewhere(recordsKey, jobKeyPrefix, `"batchId":"${batchId}"`, ...chunk)).map(Number));
    }
    return lost;
  }
}
