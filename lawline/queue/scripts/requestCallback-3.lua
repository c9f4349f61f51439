--[[
  A waiting caller asks to be called back: they hang up but keep their place.
  Callbacks to one number are capped per day, so the hotline cannot be made to dial
  someone over and over.
  KEYS[1] contact hash   KEYS[2] events stream
  KEYS[3] the number's callback counter for today (expires with the day)
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] number to call back
  ARGV[4] callbacks allowed per number per day   ARGV[5] seconds the counter lives
  Returns 1 marked; 0 already a callback; -1 no longer waiting;
  -3 this number has had its callbacks for today.
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
if (tonumber(redis.call('GET', KEYS[3])) or 0) >= tonumber(ARGV[4]) then
  return -3
end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], math.floor(tonumber(ARGV[5])))
redis.call('HSET', KEYS[1], 'callback', '1', 'callback_number', ARGV[3])
emit(KEYS[2], ARGV[2], 'contact.callback', now, {'contact', contact_json(KEYS[1])})
return 1
