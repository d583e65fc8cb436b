--[[
  The rule for names: points each name at its record's id, unless another record rightfully
  holds it. A name held by another id moves only when that id's stored record no longer carries
  the name (it was renamed, or removed); when both records carry it, the lower id keeps it. So one
  payload cannot take the name of a record already stored (a payload for id 26 named like #5
  leaves `get` of that name at #5), and the outcome does not depend on which was fetched first.
  One HMGET and one HSET for all the pairs; an HGET of the holder's record only on a conflict. A
  name claimed twice in one call is decided in order, the earlier claim counting as the holder.
  `pairs` is a table { name, id, name, id, ... } whose records are already written.
  Returns the number of names left with another id.
]]
local function claimNames(namesKey, recordsKey, pairs)
  local n = #pairs / 2
  local fields = {}
  for i = 1, n do fields[i] = pairs[2 * i - 1] end
  local holders = {}
  for i = 1, n, 1000 do
    local part = redis.call('HMGET', namesKey, unpack(fields, i, math.min(i + 999, n)))
    for j = 1, #part do holders[i + j - 1] = part[j] end
  end
  local claimed, out, kept = {}, {}, 0
  for i = 1, n do
    local name, id = fields[i], pairs[2 * i]
    local holder = claimed[name] or holders[i]
    local take = (not holder) or holder == id
    if not take then
      local ok, record = pcall(cjson.decode, redis.call('HGET', recordsKey, holder) or 'null')
      take = not (ok and type(record) == 'table' and record.name == name) or tonumber(id) < tonumber(holder)
    end
    if take then
      claimed[name] = id
      out[#out + 1] = name
      out[#out + 1] = id
    else
      kept = kept + 1
    end
  end
  for i = 1, #out, 1000 do redis.call('HSET', namesKey, unpack(out, i, math.min(i + 999, #out))) end
  return kept
end
