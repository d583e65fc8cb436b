--[[
  scan-record-ids: one HSCAN step over the records hash, answering the fields (ids) alone.

  Input:
    KEYS[1]  the records hash (id → record JSON)
    ARGV[1]  the HSCAN cursor ("0" to start)   ARGV[2] the COUNT hint
  HSCAN answers every field with its value; a record is ~1 KB and its id a few bytes, so scanning
  here and answering ids only sends about a hundredth of the bytes (HSCAN ... NOVALUES does the
  same from Redis 7.4 on; 7.0 does not have it). Each call does O(COUNT) work, so scanning a
  large store never blocks Redis for long.
  Output: { next cursor, field, field, ... }; the cursor is "0" when the scan is done. A field may
  come twice across calls: HSCAN promises only that every field present throughout is seen.
  Writes: nothing. Emits nothing.
]]
local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local out = { reply[1] }
local entries = reply[2]
for i = 1, #entries, 2 do out[#out + 1] = entries[i] end
return out
