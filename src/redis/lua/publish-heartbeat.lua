--[[
  publish-heartbeat: writes one worker's heartbeat unless the one stored is newer.

  Input:
    KEYS[1]  the workers hash
    ARGV[1]  worker id   ARGV[2] heartbeat JSON   ARGV[3] its startedAt   ARGV[4] its beat number
  Output: 1 when written, 0 when a later beat of the same process was already there.
  Writes: the workers hash. Emits nothing.

  Why not a plain HSET: a beat sent just as a link went silent can reach Redis long after a
  fresh one, once the link heals, as TCP retransmits it from the connection the worker gave up
  (the client closes that socket, but the kernel keeps sending what was in it). A plain HSET then
  turned a live worker into one last seen at the cut (seen in test/partition-worker.test.ts).
  Beats are numbered rather than compared by time: a clock stepped back must not silence one.
]]
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local ok, hb = pcall(cjson.decode, stored)
  if ok and type(hb) == 'table' and tostring(hb.startedAt) == ARGV[3] and tonumber(hb.beat) and tonumber(hb.beat) > tonumber(ARGV[4]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
