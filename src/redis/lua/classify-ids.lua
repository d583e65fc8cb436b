--[[
  classify-ids: what the producer must do with each id, for thousands of ids in one call (a
  pipeline of commands per id cost 4x as long at 100,000 ids).

  Input:
    KEYS[1]  the records hash
    ARGV[1]  the job key prefix (`<p>:pokemon:pokemon-`)
    ARGV[2]  '1' when refreshing (stored ids are fetched again)
    ARGV[3..] ids
  Output: one code per id:
    {{id.fresh}}  neither stored nor queued: add a job
    {{id.stored}}  stored, and not refreshing: skip it
    {{id.live}}  a job for it is waiting, delayed or running: wait for that job (adopt it)
    {{id.finished}}  a finished job is kept for inspection (BullMQ would ignore a new job with its id):
       remove it, then add
  Reads only; emits nothing. Job keys are built here rather than declared: like BullMQ's own
  scripts, this relies on the prefix putting them in the records hash's slot ({hash-tag}).
]]
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if ARGV[2] ~= '1' and redis.call('HEXISTS', KEYS[1], id) == 1 then
    out[#out + 1] = {{id.stored}}
  else
    local jobKey = ARGV[1] .. id
    if redis.call('EXISTS', jobKey) == 0 then
      out[#out + 1] = {{id.fresh}}
    elseif redis.call('HEXISTS', jobKey, 'finishedOn') == 1 then
      out[#out + 1] = {{id.finished}}
    else
      out[#out + 1] = {{id.live}}
    end
  end
end
return out
