--[[
  The lawyer accepts the contact offered to them: they are now talking.
  KEYS[1] contact hash   KEYS[2] lawyer hash   KEYS[3] offers zset   KEYS[4] events stream
  KEYS[5] the contact's queue stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id   ARGV[4] service-level seconds
  ARGV[5] service KEYS[5] was built from
  Returns 1 connected; -1 the offer is no longer this lawyer's (expired, withdrawn, abandoned);
  -99 (STALE) the contact's service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'channel', 'entered_at', 'id', 'service')
if c[1] ~= 'offered' or c[2] ~= ARGV[3] then
  return -1
end
if refs_stale(c[2], c[6], ARGV[3], ARGV[5]) then
  return STALE
end
redis.call('HSET', KEYS[1], 'state', 'connected', 'answered_at', fmt_time(now), 'offer_deadline', '')
redis.call('ZREM', KEYS[3], c[5])
redis.call('HSET', KEYS[2], 'offer', '', 'missed', 0, 'talking', c[5])
redis.call('HINCRBY', KEYS[2], 'load_' .. c[3], 1)
refresh_lawyer(KEYS[2], now)
local waited = now - tonumber(c[4])
redis.call('HINCRBY', KEYS[5], 'answered', 1)
redis.call('HINCRBYFLOAT', KEYS[5], 'wait_answered_s', waited)
if waited <= tonumber(ARGV[4]) then
  redis.call('HINCRBY', KEYS[5], 'answered_in_sl', 1)
end
emit(KEYS[4], ARGV[2], 'contact.answered', now,
  {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(KEYS[2])})
return 1
