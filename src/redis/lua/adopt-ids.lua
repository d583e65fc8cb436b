--[[
  adopt-ids: makes a batch wait for ids whose jobs belong to other batches. An id whose job has
  already finished is counted at once, by how it ended; any other is entered in the adopters
  hash, and commit-group counts it into this batch when that job's outcome is counted. Both
  happen inside one script each, so no outcome can fall between the check and the entry.

  Input:
    KEYS[1]  the adopters hash   KEYS[2] the records hash   KEYS[3] this batch's hash
    ARGV[1]  the batch key prefix (`<p>:batch:`)   ARGV[2] the job key prefix (`<p>:pokemon:pokemon-`)
    ARGV[3]  this batch's id   ARGV[4] now (ms)   ARGV[5] the batch-finished channel   ARGV[6] TTL (s)
    ARGV[7]  the mode:
      {{mode.adopt}}  ids the producer found queued: adopt each one (and count it in `{{batch.queued}}`)
      {{mode.check}}  ids this batch just added: only those whose job turned out to belong to another
             batch (a racing producer was first) are adopted, and move from `{{batch.added}}` to `{{batch.queued}}`
    ARGV[8..] ids
  Output: { adopted, of which already finished }.
  Writes: the adopters hash; this batch's `{{batch.queued}}`, `{{batch.adoptedCompleted}}`, `{{batch.adoptedFailed}}`
    (and in check mode `{{batch.added}}`), `{{batch.finishedAt}}`.
  Emits: PUBLISH <channel> <batch id> when this finishes the batch.
]]
--- @include "finish-if-done"
local rcall = redis.call
local batchPrefix, jobPrefix, me, now, channel, ttl, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local myDone = batchPrefix .. me .. '{{doneSuffix}}'
local marker = '"batchId":"' .. me .. '"'
local adopted, completed, failed = 0, 0, 0

for i = 8, #ARGV do
  local id = ARGV[i]
  local jobKey = jobPrefix .. id
  local data = rcall('HGET', jobKey, 'data')
  local ours = false
  if mode == '{{mode.check}}' then
    -- Ours when its data names this batch; a job already gone is ours when this batch counted it.
    if data then ours = string.find(data, marker, 1, true) ~= nil else ours = rcall('GETBIT', myDone, id) == 1 end
  end
  if not ours then
    adopted = adopted + 1
    local owner = data and string.match(data, '"batchId":"([^"]+)"')
    if owner and rcall('GETBIT', batchPrefix .. owner .. '{{doneSuffix}}', id) == 1 then
      -- Counted by its own batch already (BullMQ may not have moved the job on yet).
      if rcall('GETBIT', batchPrefix .. owner .. '{{failedSuffix}}', id) == 1 then failed = failed + 1 else completed = completed + 1 end
    elseif not data or rcall('HEXISTS', jobKey, 'finishedOn') == 1 then
      -- Finished (and perhaps removed) without its batch counting it: a batch that expired.
      local ok = (data and rcall('HEXISTS', jobKey, 'returnvalue') == 1) or (not data and rcall('HEXISTS', KEYS[2], id) == 1)
      if ok then completed = completed + 1 else failed = failed + 1 end
    else
      local waiting = rcall('HGET', KEYS[1], id)
      if not waiting then
        rcall('HSET', KEYS[1], id, me)
      elseif not string.find(' ' .. waiting .. ' ', ' ' .. me .. ' ', 1, true) then
        rcall('HSET', KEYS[1], id, waiting .. ' ' .. me)
      end
    end
  end
end

if adopted > 0 then
  if mode == '{{mode.check}}' then rcall('HINCRBY', KEYS[3], '{{batch.added}}', -adopted) end
  rcall('HINCRBY', KEYS[3], '{{batch.queued}}', adopted)
end
if completed > 0 then rcall('HINCRBY', KEYS[3], '{{batch.adoptedCompleted}}', completed) end
if failed > 0 then rcall('HINCRBY', KEYS[3], '{{batch.adoptedFailed}}', failed) end
rcall('EXPIRE', KEYS[3], ttl)
finishIfDone(KEYS[3], me, now, channel)
return { adopted, completed + failed }
