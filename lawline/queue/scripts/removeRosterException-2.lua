--[[
  Remove one dated exception (leave or extra duty) from a lawyer's roster, by its id.
  KEYS[1] lawyer hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] the exception's id
  Returns 1 removed; 0 the lawyer has no such entry; -1 no such lawyer.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local raw = redis.call('HGET', KEYS[1], 'exceptions')
if not raw or raw == '' then
  return 0
end
local kept, found = {}, false
for _, e in ipairs(cjson.decode(raw)) do
  if e.id == ARGV[3] then
    found = true
  else
    kept[#kept + 1] = e
  end
end
if not found then
  return 0
end
-- cjson writes an empty table as {}: the list is written as [] by hand.
redis.call('HSET', KEYS[1], 'exceptions', #kept == 0 and '[]' or cjson.encode(kept))
emit(KEYS[2], ARGV[2], 'lawyer.updated', now, {'lawyer', lawyer_json(KEYS[1])})
return 1
