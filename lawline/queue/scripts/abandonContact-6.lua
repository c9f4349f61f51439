--[[
  The caller leaves before being connected (hung up, line dead, terminal closed).
  An offer in progress is withdrawn; the lawyer is free again, nothing counted
  against them.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] offers zset   KEYS[4] events stream
  KEYS[5] the contact's lawyer hash (P:lawyer: when none)   KEYS[6] its queue's stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] reason
  ARGV[4] lawyer id and ARGV[5] service KEYS[5] and KEYS[6] were built from
  ARGV[6] seconds the contact's hash is kept once over (0: for ever)
  Returns 1 abandoned; 0 already ended or abandoned; -1 connected (use endContact);
  -2 no such contact; -99 (STALE) the contact's lawyer or service changed: read again.
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
if refs_stale(c[2], c[5], ARGV[4], ARGV[5]) then
  return STALE
end
local fields = {}
if c[1] == 'offered' then
  redis.call('HSET', KEYS[5], 'offer', '')
  refresh_lawyer(KEYS[5], now)
  fields = {'lawyer', lawyer_json(KEYS[5])}
end
redis.call('ZREM', KEYS[2], c[4])
redis.call('ZREM', KEYS[3], c[4])
redis.call('HSET', KEYS[1], 'state', 'abandoned', 'ended_at', fmt_time(now), 'lawyer', '',
  'offer_deadline', '', 'ended_by', ARGV[3])
redis.call('HINCRBY', KEYS[6], 'abandoned', 1)
redis.call('HINCRBYFLOAT', KEYS[6], 'wait_abandoned_s', now - tonumber(c[3]))
expire_contact(KEYS[1], ARGV[6])
fields[#fields + 1] = 'contact'
fields[#fields + 1] = contact_json(KEYS[1])
fields[#fields + 1] = 'reason'
fields[#fields + 1] = ARGV[3]
emit(KEYS[4], ARGV[2], 'contact.abandoned', now, fields)
return 1
