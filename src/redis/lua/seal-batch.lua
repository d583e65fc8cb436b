--[[
  seal-batch: says every id of a batch is enqueued, and finishes it at once when nothing is left
  to wait for (all its ids were stored already, or all its jobs ended while it was enqueued).

  Input:
    KEYS[1]  the batch hash
    ARGV[1]  the batch id   ARGV[2] now (ms)   ARGV[3] the batch-finished channel
  Output: 1 when this finished the batch, else 0.
  Writes: `{{batch.sealedAt}}`, and `{{batch.finishedAt}}` when done.
  Emits: PUBLISH <channel> <batch id> when it finishes the batch.
]]
--- @include "finish-if-done"
redis.call('HSET', KEYS[1], '{{batch.sealedAt}}', ARGV[2])
if finishIfDone(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
