--[[
  create-batch: writes a new batch, open: the producer enqueues its ids a chunk at a time, counting
  them into it as it goes, and seals it at the end (seal-batch); it cannot finish before.

  Input:
    KEYS[1]  the batch hash (`<p>:batch:<id>`)
    KEYS[2]  the batches sorted set
    ARGV[1]  the batch id   ARGV[2] now (ms)   ARGV[3] TTL of batch keys (s)
    ARGV[4..] field/value pairs: `{{batch.spec}}`, `{{batch.requested}}`, `{{batch.refresh}}`
  Output: 1.
  Writes: the batch hash (with `{{batch.createdAt}}` = now and zero counters), its entry in the sorted set.
  Emits nothing.
]]
local fields = { '{{batch.createdAt}}', ARGV[2], '{{batch.added}}', 0, '{{batch.queued}}', 0, '{{batch.stored}}', 0 }
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
