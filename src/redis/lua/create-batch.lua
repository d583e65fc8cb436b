--[[
  create-batch: writes a new batch, and finishes it at once when it waits for nothing (every id
  was stored already).

  Input:
    KEYS[1]  the batch hash (`<p>:batch:<id>`)
    KEYS[2]  the batches sorted set
    ARGV[1]  the batch id   ARGV[2] now (ms)   ARGV[3] TTL of batch keys (s)   ARGV[4] the batch-finished channel
    ARGV[5..] field/value pairs: `{{batch.spec}}`, `{{batch.requested}}`, `{{batch.added}}`, `{{batch.queued}}`, `{{batch.stored}}`, `{{batch.refresh}}`
  Output: 1 when the batch is already finished, else 0.
  Writes: the batch hash (with `{{batch.createdAt}}` = now), its entry in the sorted set.
  Emits: PUBLISH <channel> <batch id> when it is finished at once.
]]
--- @include "finish-if-done"
local fields = { '{{batch.createdAt}}', ARGV[2] }
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if finishIfDone(KEYS[1], ARGV[1], ARGV[2], ARGV[4]) then return 1 end
return 0
