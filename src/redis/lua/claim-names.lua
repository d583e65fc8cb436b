--[[
  claim-names: points each name at its record's id, unless another record rightfully holds it
  (the rule is in includes/claim-names.lua). Used by RecordStore.put, after the records' HSET in
  the same transaction; the worker's group commit runs the same rule inside commit-group.

  Input:
    KEYS[1]  the names hash (name → id)   KEYS[2] the records hash (id → record JSON)
    ARGV     pairs: name, id (their records are already written, earlier in the same transaction)
  Output: the number of names left with another id.
  Writes: the names hash. Emits nothing.
]]
--- @include "claim-names"
return claimNames(KEYS[1], KEYS[2], ARGV)
