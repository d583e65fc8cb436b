--[[
  The one rule that says a batch is finished: all of it is enqueued (sealed), and every job it
  waits for (its own, `added`, and the ones it adopted from other batches, `queued`) has a counted
  outcome. Sets finishedAt once and publishes the batch id, so waiters need not poll for the end.
  Returns true when this call finished the batch.
]]
local function finishIfDone(batchKey, batchId, now, channel)
  local b = redis.call('HMGET', batchKey, '{{batch.added}}', '{{batch.queued}}', '{{batch.completed}}',
    '{{batch.failed}}', '{{batch.adoptedCompleted}}', '{{batch.adoptedFailed}}', '{{batch.finishedAt}}',
    '{{batch.sealedAt}}')
  if b[7] or not b[8] then return false end
  local waitFor = tonumber(b[1] or '0') + tonumber(b[2] or '0')
  local done = tonumber(b[3] or '0') + tonumber(b[4] or '0') + tonumber(b[5] or '0') + tonumber(b[6] or '0')
  if done < waitFor then return false end
  redis.call('HSET', batchKey, '{{batch.finishedAt}}', now)
  redis.call('PUBLISH', channel, batchId)
  return true
end
