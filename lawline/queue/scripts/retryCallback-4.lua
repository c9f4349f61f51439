--[[
  A scheduled callback's retry time has come: back into the queue at its old place.
  KEYS[1] contact hash   KEYS[2] callbacks zset   KEYS[3] waiting zset   KEYS[4] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] contact id
  Returns 1 waiting again; 0 no longer scheduled (cancelled or ended meanwhile).
]]
--@include common
local now = tonumber(ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3])
local c = redis.call('HMGET', KEYS[1], 'state', 'entered_at')
if c[1] ~= 'scheduled' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'retry_at', '')
redis.call('ZADD', KEYS[3], c[2], ARGV[3])
emit(KEYS[4], ARGV[2], 'contact.requeued', now, {'contact', contact_json(KEYS[1])})
return 1
