--[[
  commit-group: what one group commit counts (the jobs a worker finished in one event-loop turn),
  in one call: the names of the records it stored, and each job's outcome counted into its batch,
  once. The records themselves go in a plain HSET sent just before this call on the same
  connection (Redis runs them in that order): a record passed through a script's arguments costs
  Redis three times what the HSET does, as every argument is copied into Lua and back. One call
  per group shares its fixed cost among all the jobs of the group; it replaced a MULTI of an
  HSET and two scripts (bench/CHANGES.md). The batch's timing histograms are not written here:
  the worker adds them up over a second and flushes them (stats/recorder.ts); building histogram
  fields per job cost half of this script's time.

  Input:
    KEYS[1]  the adopters hash (`<p>:adopters`)
    KEYS[2]  the records hash (`<p>:records`)
    KEYS[3]  the names hash (`<p>:names`)
    ARGV[1]  the batch key prefix (`<p>:batch:`)
    ARGV[2]  now (ms since the epoch)
    ARGV[3]  the TTL of batch keys (s), refreshed on every write
    ARGV[4]  the batch-finished channel
    ARGV[5]  N, the number of names
    then 2 values per name: the name, its record's Pokémon id (the record is already written);
    then, per batch: its id, the number J of its jobs, and J jobs, one value each:
      `<Pokémon id>` for a job completed at its first attempt with a request (nearly every job), or
      `<Pokémon id>,<outcome>,<cached>,<attempts>,<reason>` for any other: outcome '{{outcome.completed}}' or '{{outcome.failed}}',
      cached '1' when answered from the store without a request, attempts made before this one
      (BullMQ's attemptsMade), the failure reason ('' when completed).
      One value per job: every argument is copied into Lua, and six per job cost Redis more than
      the bit each job sets (bench/CHANGES.md).

  Output: one code per job, in the order of the arguments:
    {{count.counted}}   counted into its batch
    {{count.countedLast}}   counted, and the last job its batch waited for: this call finished the batch
    {{count.duplicate}} its batch had counted that id already (a job that ran twice: BullMQ runs a job
                        at least once, the counters count it once)
    {{count.noBatch}}   its batch does not exist (expired, or never created): counted nowhere

  Writes: the names hash (as includes/claim-names.lua rules); per batch that exists: the counters
    `{{batch.completed}}`, `{{batch.failed}}`, `{{batch.cached}}`, `{{batch.retried}}`, `{{batch.retries}}`, failures `{{failurePrefix}}<reason>`,
    bit <id> of the `{{doneSuffix}}` bitmap (and of `{{failedSuffix}}` for a failure); for every batch waiting on the
    id through the adopters hash, `{{batch.adoptedCompleted}}` or `{{batch.adoptedFailed}}` (and the entry is removed);
    `{{batch.finishedAt}}`.
  Emits: PUBLISH <channel> <batch id> for each batch this call finishes.
  Batch keys are built from the prefix, as BullMQ's scripts build job keys: with a {hash-tag}
  prefix they share the declared keys' cluster slot.
]]
local rcall = redis.call
local adoptersKey, recordsKey, namesKey = KEYS[1], KEYS[2], KEYS[3]
local batchPrefix, now, ttl, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local nNames = tonumber(ARGV[5])

--- @include "claim-names"
--- @include "finish-if-done"

local a = 5
if nNames > 0 then
  local claims = {}
  for i = 1, 2 * nNames do claims[i] = ARGV[a + i] end
  a = a + 2 * nNames
  claimNames(namesKey, recordsKey, claims)
end

-- batch id -> { exists, key, done = its bitmap's key, incr = { field -> n }, failed = bool, last = index of its last counted job }, in first-seen order
local batches, order = {}, {}
local function batchOf(batchId)
  local b = batches[batchId]
  if not b then
    local key = batchPrefix .. batchId
    b = { exists = rcall('EXISTS', key) == 1, key = key, done = key .. '{{doneSuffix}}', incr = {}, failed = false }
    batches[batchId] = b
    order[#order + 1] = batchId
  end
  return b
end
local function add(b, field, n)
  b.incr[field] = (b.incr[field] or 0) + n
end

-- Adopters are rare (two batches asking for one id at once): one look for the whole call
-- rather than one per job when there are none. Nothing in this call adds any.
local anyAdopters = rcall('EXISTS', adoptersKey) == 1

local out = {}
local j = 0
while a < #ARGV do
  local b = batchOf(ARGV[a + 1])
  local n = tonumber(ARGV[a + 2])
  a = a + 2
  for k = 1, n do
    local id, outcome, cached, attempts, reason = ARGV[a + k], '{{outcome.completed}}', '0', 0, ''
    if string.find(id, ',', 1, true) then
      id, outcome, cached, attempts, reason = string.match(id, '^(%d+),(%a),(%d),(%d+),(.*)$')
      attempts = tonumber(attempts)
    end
    j = j + 1
    local counted = {{count.noBatch}}
    if b.exists then
      counted = {{count.duplicate}}
      if rcall('SETBIT', b.done, id, 1) == 0 then
        counted = {{count.counted}}
        b.last = j
        if outcome == '{{outcome.failed}}' then
          add(b, '{{batch.failed}}', 1)
          add(b, '{{failurePrefix}}' .. reason, 1)
          rcall('SETBIT', b.key .. '{{failedSuffix}}', id, 1)
          b.failed = true
        else
          add(b, '{{batch.completed}}', 1)
          if cached == '1' then add(b, '{{batch.cached}}', 1) end
        end
        if attempts > 0 then
          add(b, '{{batch.retried}}', 1)
          add(b, '{{batch.retries}}', attempts)
        end
      end
    end
    out[j] = counted
    -- Batches that adopted this id are told once, whatever became of the owner's batch.
    if anyAdopters and counted ~= {{count.duplicate}} then
      local waiting = rcall('HGET', adoptersKey, id)
      if waiting then
        rcall('HDEL', adoptersKey, id)
        local field = outcome == '{{outcome.failed}}' and '{{batch.adoptedFailed}}' or '{{batch.adoptedCompleted}}'
        for adopter in string.gmatch(waiting, '%S+') do
          local ab = batchOf(adopter)
          if ab.exists then add(ab, field, 1) end
        end
      end
    end
  end
  a = a + n
end

for _, batchId in ipairs(order) do
  local b = batches[batchId]
  if b.exists then
    for field, n in pairs(b.incr) do rcall('HINCRBY', b.key, field, n) end
    if finishIfDone(b.key, batchId, now, channel) and b.last then out[b.last] = {{count.countedLast}} end
    rcall('EXPIRE', b.key, ttl)
    rcall('EXPIRE', b.done, ttl)
    if b.failed then rcall('EXPIRE', b.key .. '{{failedSuffix}}', ttl) end
  end
end
return out
