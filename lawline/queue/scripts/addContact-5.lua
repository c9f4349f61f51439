--[[
  A new contact enters the queue.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] queue stats hash   KEYS[4] events stream
  KEYS[5] the caller's history zset (contacts from the same number; unused without a caller)
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] seconds the number's history is kept
  ARGV[4..] contact fields as name, value pairs
  Returns 1 entered, 0 the contact already exists (a retried request: nothing changes).
]]
--@include common
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local now = tonumber(ARGV[1])
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'state', 'waiting')
local c = redis.call('HMGET', KEYS[1], 'id', 'entered_at', 'caller')
redis.call('ZADD', KEYS[2], c[2], c[1])
if c[3] and c[3] ~= '' then
  redis.call('ZADD', KEYS[5], c[2], c[1])
  -- Who called when is personal data too: kept as long as the contacts themselves.
  local keep = math.floor(tonumber(ARGV[3]))
  if keep > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. fmt_time(now - keep))
    redis.call('EXPIRE', KEYS[5], keep)
  end
end
redis.call('HINCRBY', KEYS[3], 'entered', 1)
emit(KEYS[4], ARGV[2], 'contact.entered', now, {'contact', contact_json(KEYS[1])})
return 1
