--[[
  Change some of an existing lawyer's profile fields (skills, languages, capacity,
  roster, name); the others, work in hand and presence are left as they are.
  KEYS[1] lawyer hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3..] the changed fields as name, value pairs
  Returns 1 updated; -1 no such lawyer.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
if #ARGV > 2 then
  local fields = {}
  for i = 3, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  redis.call('HSET', KEYS[1], unpack(fields))
end
refresh_lawyer(KEYS[1], now)
emit(KEYS[2], ARGV[2], 'lawyer.updated', now, {'lawyer', lawyer_json(KEYS[1])})
return 1
