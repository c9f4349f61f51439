--[[
  A waiting caller asks to be called back: they hang up but keep their place.
  KEYS[1] contact hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] number to call back
  Returns 1 marked; 0 already a callback; -1 no longer waiting.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'callback')
if c[1] ~= 'waiting' and c[1] ~= 'offered' then
  return -1
end
if c[2] == '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'callback', '1', 'callback_number', ARGV[3])
emit(KEYS[2], ARGV[2], 'contact.callback', now, {'contact', contact_json(KEYS[1])})
return 1
