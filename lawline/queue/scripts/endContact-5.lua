--[[
  A connected contact ends (either side hung up): the lawyer goes to wrap-up.
  KEYS[1] contact hash   KEYS[2] wrapups zset   KEYS[3] events stream
  KEYS[4] the contact's lawyer hash   KEYS[5] its queue's stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] who ended it: caller|lawyer|system
  ARGV[4] wrap-up seconds   ARGV[5] lawyer id and ARGV[6] service KEYS[4] and KEYS[5] were built from
  ARGV[7] seconds the contact's hash is kept once over (0: for ever)
  Returns 1 ended; 0 already ended; -1 not connected (use abandonContact);
  -99 (STALE) the contact's lawyer or service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'channel', 'answered_at', 'service', 'id')
if c[1] == 'ended' then
  return 0
end
if c[1] ~= 'connected' then
  return -1
end
if refs_stale(c[2], c[5], ARGV[5], ARGV[6]) then
  return STALE
end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', fmt_time(now), 'ended_by', ARGV[3])
release_lawyer(KEYS[4], c[3], c[6])
start_wrapup(KEYS[4], KEYS[2], c[2], now, tonumber(ARGV[4]))
refresh_lawyer(KEYS[4], now)
redis.call('HINCRBY', KEYS[5], 'handled', 1)
redis.call('HINCRBYFLOAT', KEYS[5], 'talk_s', now - tonumber(c[4]))
expire_contact(KEYS[1], ARGV[7])
emit(KEYS[3], ARGV[2], 'contact.ended', now,
  {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(KEYS[4]), 'reason', ARGV[3]})
return 1
