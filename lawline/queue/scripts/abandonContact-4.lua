--[[
  The caller leaves before being connected (hung up, line dead, terminal closed).
  An offer in progress is withdrawn; the lawyer is free again, nothing counted
  against them.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] offers zset   KEYS[4] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] key prefix (for the lawyer's and the queue's stats hashes)
  ARGV[4] reason
  Returns 1 abandoned; 0 already ended or abandoned; -1 connected (use endContact);
  -2 no such contact.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'entered_at', 'id', 'service')
if not c[1] then
  return -2
end
if c[1] == 'ended' or c[1] == 'abandoned' then
  return 0
end
if c[1] == 'connected' then
  return -1
end
local fields = {}
if c[1] == 'offered' then
  local lkey = ARGV[3] .. ':lawyer:' .. c[2]
  redis.call('HSET', lkey, 'offer', '')
  refresh_lawyer(lkey, now)
  fields = {'lawyer', lawyer_json(lkey)}
end
redis.call('ZREM', KEYS[2], c[4])
redis.call('ZREM', KEYS[3], c[4])
redis.call('HSET', KEYS[1], 'state', 'abandoned', 'ended_at', fmt_time(now), 'lawyer', '',
  'offer_deadline', '', 'ended_by', ARGV[4])
local stats = ARGV[3] .. ':stats:' .. c[5]
redis.call('HINCRBY', stats, 'abandoned', 1)
redis.call('HINCRBYFLOAT', stats, 'wait_abandoned_s', now - tonumber(c[3]))
fields[#fields + 1] = 'contact'
fields[#fields + 1] = contact_json(KEYS[1])
fields[#fields + 1] = 'reason'
fields[#fields + 1] = ARGV[4]
emit(KEYS[4], ARGV[2], 'contact.abandoned', now, fields)
return 1
