--[[
  collect-metrics: BullMQ's own job metrics (what bull-board's chart draws), written for many jobs
  at once by a worker's statistics flush rather than by BullMQ for every job it finishes. The
  same keys and the same rule as BullMQ's includes/collectMetrics.lua (bullmq 6.7), with the
  count raised by N instead of 1: a running count, and one data point per minute, newest first
  (the jobs counted in a minute, pushed when the first flush of a later minute comes, then a zero
  for each minute in between), at most maxDataPoints.
  Done per job, inside BullMQ's moveToFinished, it cost Redis two commands per job (bench/CHANGES.md).

  Input:
    KEYS[1]  the metrics hash (`<p>:pokemon:metrics:completed` or `...:failed`)
    KEYS[2]  its data points (`<p>:pokemon:metrics:completed:data`, a list)
    ARGV[1]  N, the jobs finished since the last flush (> 0)
    ARGV[2]  now (ms since the epoch, Redis's clock as the worker knows it)
    ARGV[3]  maxDataPoints
  Output: the count before this call.
  Writes: the metrics hash (`count`, `prevTS`, `prevCount`) and its data list. Emits nothing.
]]
local rcall = redis.call
local n, timestamp, maxDataPoints = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count = rcall('HINCRBY', KEYS[1], 'count', n) - n
local prevTS = rcall('HGET', KEYS[1], 'prevTS')
if not prevTS then
  rcall('HSET', KEYS[1], 'prevTS', timestamp, 'prevCount', 0)
  return count
end
local points = math.min(math.floor(timestamp / 60000) - math.floor(tonumber(prevTS) / 60000), maxDataPoints)
if points > 0 then
  local delta = count - tonumber(rcall('HGET', KEYS[1], 'prevCount') or '0')
  local values = { delta }
  for i = 2, points do values[i] = 0 end
  for i = 1, #values, 7000 do rcall('LPUSH', KEYS[2], unpack(values, i, math.min(i + 6999, #values))) end
  rcall('LTRIM', KEYS[2], 0, maxDataPoints - 1)
  rcall('HSET', KEYS[1], 'prevCount', count, 'prevTS', timestamp)
end
return count
