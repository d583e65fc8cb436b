--[[
  record-outcomes: counts finished jobs into their batches, each job once, and finishes every
  batch whose last job this was. One call carries all the jobs of one group commit (the jobs a
  worker finished in one event-loop turn), so its fixed cost is shared by all of them, and each
  batch's counters are added up here and written once per call. The batch's timing histograms are
  not written here: the worker adds them up over a second and flushes them (stats/recorder.ts);
  building histogram fields per job cost half of this script's time (bench/CHANGES.md).

  Input:
    KEYS[1]  the adopters hash (`<p>:adopters`)
    ARGV[1]  the batch key prefix (`<p>:batch:`)
    ARGV[2]  now (ms since the epoch)
    ARGV[3]  the TTL of batch keys (s), refreshed on every write
    ARGV[4]  the batch-finished channel
    then 6 values per job, from ARGV[5 + 6j]:
      Pokémon id, batch id, outcome ('{{outcome.completed}}' or '{{outcome.failed}}'), failure reason ('' when completed),
      '1' when answered from the store without a request, attempts made before this one (BullMQ's attemptsMade)

  Output: one code per job:
    {{count.counted}}   counted into its batch
    {{count.countedLast}}   counted, and the last job its batch waited for: this call finished the batch
    {{count.duplicate}} its batch had counted that id already (a job that ran twice: BullMQ runs a job
                        at least once, the counters count it once)
    {{count.noBatch}}   its batch does not exist (expired, or never created): counted nowhere

  Writes, per batch that exists: the counters `{{batch.completed}}`, `{{batch.failed}}`, `{{batch.cached}}`,
    `{{batch.retried}}`, `{{batch.retries}}`, failures `{{failurePrefix}}<reason>`, bit <id> of the `{{doneSuffix}}` bitmap (and of
    `{{failedSuffix}}` for a failure); for every batch waiting on the id through the adopters hash,
    `{{batch.adoptedCompleted}}` or `{{batch.adoptedFailed}}` (and the entry is removed); `{{batch.finishedAt}}`.
  Emits: PUBLISH <channel> <batch id> for each batch this call finishes.
  Keys are built from the prefix, as BullMQ's scripts build job keys: with a {hash-tag} prefix
  they share the declared key's cluster slot.
]]
local rcall = redis.call
local adoptersKey = KEYS[1]
local batchPrefix, now, ttl, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local PER_JOB = 6

--- @include "finish-if-done"

-- batch id -> { exists, incr = { field -> n }, failed = bool, last = index of its last counted job }, in first-seen order
local batches, order = {}, {}
local function batchOf(batchId)
  local b = batches[batchId]
  if not b then
    b = { exists = rcall('EXISTS', batchPrefix .. batchId) == 1, incr = {}, failed = false }
    batches[batchId] = b
    order[#order + 1] = batchId
  end
  return b
end
local function add(b, field, n)
  b.incr[field] = (b.incr[field] or 0) + n
end

local out = {}
for j = 0, (#ARGV - 4) / PER_JOB - 1 do
  local a = 4 + PER_JOB * j
  local id, batchId, outcome = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local b = batchOf(batchId)
  local counted = {{count.noBatch}}
  if b.exists then
    counted = {{count.duplicate}}
    if rcall('SETBIT', batchPrefix .. batchId .. '{{doneSuffix}}', id, 1) == 0 then
      counted = {{count.counted}}
      b.last = j + 1
      if outcome == '{{outcome.failed}}' then
        add(b, '{{batch.failed}}', 1)
        add(b, '{{failurePrefix}}' .. ARGV[a + 4], 1)
        rcall('SETBIT', batchPrefix .. batchId .. '{{failedSuffix}}', id, 1)
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
  if counted ~= {{count.duplicate}} then
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

for _, batchId in ipairs(order) do
  local b = batches[batchId]
  if b.exists then
    local key = batchPrefix .. batchId
    for field, n in pairs(b.incr) do rcall('HINCRBY', key, field, n) end
    if finishIfDone(key, batchId, now, channel) and b.last then out[b.last] = {{count.countedLast}} end
    rcall('EXPIRE', key, ttl)
    rcall('EXPIRE', key .. '{{doneSuffix}}', ttl)
    if b.failed then rcall('EXPIRE', key .. '{{failedSuffix}}', ttl) end
  end
end
return out
