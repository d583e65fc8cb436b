--[[
  raise-max: raises fields of a hash to the values given, where those are larger: the largest
  wait, fetch and total time of a batch, from many workers' flushes.

  Input:
    KEYS[1]  the hash
    ARGV     field/value pairs (values are numbers)
  Output: the number of fields raised.
  Writes: the hash. Emits nothing.
]]
local raised = 0
for i = 1, #ARGV, 2 do
  local v = tonumber(ARGV[i + 1])
  if v > tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1') then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    raised = raised + 1
  end
end
return raised
