--[[
  A new contact enters the queue.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] queue stats hash   KEYS[4] events stream
  KEYS[5] the caller's history zset (contacts from the same number), or '' if none
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3..] contact fields as name, value pairs
  Returns 1 entered, 0 the contact already exists (a retried request: nothing changes).
]]
--@include common
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local now = tonumber(ARGV[1])
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'state', 'waiting')
local c = redis.call('HMGET', KEYS[1], 'id', 'entered_at')
redis.call('ZADD', KEYS[2], c[2], c[1])
if KEYS[5] ~= '' then
  redis.call('ZADD', KEYS[5], c[2], c[1])
end
redis.call('HINCRBY', KEYS[3], 'entered', 1)
emit(KEYS[4], ARGV[2], 'contact.entered', now, {'contact', contact_json(KEYS[1])})
return 1
