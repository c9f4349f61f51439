--[[
  Add one dated exception (leave or extra duty) to a lawyer's roster; the week's
  shifts, work in hand and presence are left as they are. Entries whose last day is
  before ARGV[5] are dropped on the way (past leave need not count against the limit).
  KEYS[1] lawyer hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] the exception (JSON, checked by the
  caller: model.RosterException.to_json)   ARGV[4] the most a lawyer may have
  ARGV[5] keep from this day (YYYY-MM-DD)
  Returns 1 added; -1 no such lawyer; -2 the lawyer has ARGV[4] already; -3 an entry
  with this id exists.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local new = cjson.decode(ARGV[3])
local kept = {}
local raw = redis.call('HGET', KEYS[1], 'exceptions')
if raw and raw ~= '' then
  for _, e in ipairs(cjson.decode(raw)) do
    if e.id == new.id then
      return -3
    end
    -- ISO dates compare as strings.
    if e.last >= ARGV[5] then
      kept[#kept + 1] = e
    end
  end
end
if #kept >= tonumber(ARGV[4]) then
  return -2
end
kept[#kept + 1] = new
redis.call('HSET', KEYS[1], 'exceptions', cjson.encode(kept))
emit(KEYS[2], ARGV[2], 'lawyer.updated', now, {'lawyer', lawyer_json(KEYS[1])})
return 1
