--[[
  The caller rated the service 1-5 after the conversation (quality evaluation).
  KEYS[1] contact hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] score 1-5
  Returns 1 stored; 0 already rated; -1 no such contact or never connected.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'rating')
if c[1] ~= 'ended' and c[1] ~= 'connected' then
  return -1
end
if c[2] and c[2] ~= '' then
  return 0
end
redis.call('HSET', KEYS[1], 'rating', ARGV[3], 'rated_at', fmt_time(now))
emit(KEYS[2], ARGV[2], 'contact.rated', now, {'contact', contact_json(KEYS[1])})
return 1
