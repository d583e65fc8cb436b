--[[
  commit-group: everything one group commit writes (the jobs a worker finished in one event-loop
  turn), in one call: the records it fetched, their names, and each job's outcome counted into its
  batch, once. Its fixed cost is shared by all the jobs of the group, and one call replaces the
  MULTI of an HSET and two scripts it once took (bench/CHANGES.md). The batch's timing
  histograms are not written here: the worker adds them up over a second and flushes them
  (stats/recorder.ts); building histogram fields per job cost half of this script's time.

  Input:
    KEYS[1]  the adopters hash (`<p>:adopters`)
    KEYS[2]  the records hash (`<p>:records`)
    KEYS[3]  the names hash (`<p>:names`)
    KEYS[4]  the raw payloads hash (`<p>:raw`)
    ARGV[1]  the batch key prefix (`<p>:batch:`)
    ARGV[2]  now (ms since the epoch)
    ARGV[3]  the TTL of batch keys (s), refreshed on every write
    ARGV[4]  the batch-finished channel
    ARGV[5]  R, the number of records
    ARGV[6]  P, the number of raw payloads (STORE_RAW)
    then 3 values per record: Pokémon id, name, record JSON;
    then 2 values per raw payload: Pokémon id, gzip-compressed payload;
    then 6 values per job:
      Pokémon id, batch id, outcome ('{{outcome.completed}}' or '{{outcome.failed}}'), failure reason ('' when completed),
      '1' when answered from the store without a request, attempts made before this one (BullMQ's attemptsMade)

  Output: one code per job:
    {{count.counted}}   counted into its batch
    {{count.countedLast}}   counted, and the last job its batch waited for: this call finished the batch
    {{count.duplicate}} its batch had counted that id already (a job that ran twice: BullMQ runs a job
                        at least once, the counters count it once)
    {{count.noBatch}}   its batch does not exist (expired, or never created): counted nowhere

  Writes: the records hash, the raw hash and the names hash (names as includes/claim-names.lua
    rules); per batch that exists: the counters `{{batch.completed}}`, `{{batch.failed}}`, `{{batch.cached}}`,
    `{{batch.retried}}`, `{{batch.retries}}`, failures `{{failurePrefix}}<reason>`, bit <id> of the `{{doneSuffix}}` bitmap (and of
    `{{failedSuffix}}` for a failure); for every batch waiting on the id through the adopters hash,
    `{{batch.adoptedCompleted}}` or `{{batch.adoptedFailed}}` (and the entry is removed); `{{batch.finishedAt}}`.
  Emits: PUBLISH <channel> <batch id> for each batch this call finishes.
  Batch keys are built from the prefix, as BullMQ's scripts build job keys: with a {hash-tag}
  prefix they share the declared keys' cluster slot.
]]
local rcall = redis.call
local adoptersKey, recordsKey, namesKey, rawKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local batchPrefix, now, ttl, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local nRecords, nRaw = tonumber(ARGV[5]), tonumber(ARGV[6])
local PER_RECORD, PER_RAW, PER_JOB = 3, 2, 6

--- @include "claim-names"
--- @include "finish-if-done"

-- The records, then their names (the claim reads the records it may have to compare).
local a = 6
if nRecords > 0 then
  local fields, claims = {}, {}
  for r = 1, nRecords do
    local id, name, json = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    a = a + PER_RECORD
    fields[#fields + 1] = id
    fields[#fields + 1] = json
    claims[#claims + 1] = name
    claims[#claims + 1] = id
  end
  for i = 1, #fields, 1000 do rcall('HSET', recordsKey, unpack(fields, i, math.min(i + 999, #fields))) end
  claimNames(namesKey, recordsKey, claims)
end
if nRaw > 0 then
  local fields = {}
  for r = 1, nRaw * PER_RAW do fields[r] = ARGV[a + r] end
  a = a + nRaw * PER_RAW
  for i = 1, #fields, 1000 do rcall('HSET', rawKey, unpack(fields, i, math.min(i + 999, #fields))) end
end

-- batch id -> { exists, done = its bitmap's key, incr = { field -> n }, failed = bool, last = index of its last counted job }, in first-seen order
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
local jobs = (#ARGV - a) / PER_JOB
for j = 0, jobs - 1 do
  local id, batchId, outcome = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local b = batchOf(batchId)
  local counted = {{count.noBatch}}
  if b.exists then
    counted = {{count.duplicate}}
    if rcall('SETBIT', b.done, id, 1) == 0 then
      counted = {{count.counted}}
      b.last = j + 1
      if outcome == '{{outcome.failed}}' then
        add(b, '{{batch.failed}}', 1)
        add(b, '{{failurePrefix}}' .. ARGV[a + 4], 1)
        rcall('SETBIT', b.key .. '{{failedSuffix}}', id, 1)
        b.failed = true
      else
        add(b, '{{batch.completed}}', 1)
        if ARGV[a + 5] == '1' then add(b, '{{batch.cached}}', 1) end
      end
      local attempts = tonumber(ARGV[a + 6])
      if attempts > 0 then
        add(b, '{{batch.retried}}', 1)
        add(b, '{{batch.retries}}', attempts)
      end
    end
  end
  out[j + 1] = counted
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
  a = a + PER_JOB
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
