--[[
  The caller's line is gone (they hung up, the telephony worker holding the call died,
  the resident hung up at the terminal), decided on the contact's state at this moment,
  so a lawyer accepting just before cannot be left talking to no one. Waiting or
  offered: abandoned, an offer withdrawn with nothing counted against the lawyer.
  Connected: ended, the lawyer goes to wrap-up. Already over, or a callback waiting for
  its retry: left as it is.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] offers zset   KEYS[4] wrapups zset
  KEYS[5] events stream   KEYS[6] the contact's lawyer hash (P:lawyer: when none)
  KEYS[7] the contact's queue stats hash
  ARGV[1] now   ARGV[2] events maxlen
  ARGV[3] lawyer id and ARGV[4] service KEYS[6] and KEYS[7] were built from
  ARGV[5] reason, if abandoned   ARGV[6] who ended it, if connected   ARGV[7] wrap-up seconds
  ARGV[8] seconds the contact's hash is kept once over (0: for ever)
  Returns 1 abandoned; 2 ended; 0 nothing to do; -2 no such contact;
  -99 (STALE) the contact's lawyer or service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'entered_at', 'id', 'service',
  'channel', 'answered_at')
if not c[1] then
  return -2
end
if c[1] ~= 'waiting' and c[1] ~= 'offered' and c[1] ~= 'connected' then
  return 0
end
if refs_stale(c[2], c[5], ARGV[3], ARGV[4]) then
  return STALE
end
if c[1] == 'connected' then
  redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', fmt_time(now), 'ended_by', ARGV[6])
  release_lawyer(KEYS[6], c[6], c[4])
  start_wrapup(KEYS[6], KEYS[4], c[2], now, tonumber(ARGV[7]))
  refresh_lawyer(KEYS[6], now)
  redis.call('HINCRBY', KEYS[7], 'handled', 1)
  redis.call('HINCRBYFLOAT', KEYS[7], 'talk_s', now - tonumber(c[7]))
  expire_contact(KEYS[1], ARGV[8])
  emit(KEYS[5], ARGV[2], 'contact.ended', now,
    {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(KEYS[6]), 'reason', ARGV[6]})
  return 2
end
local fields = {}
if c[1] == 'offered' then
  redis.call('HSET', KEYS[6], 'offer', '')
  refresh_lawyer(KEYS[6], now)
  fields = {'lawyer', lawyer_json(KEYS[6])}
end
redis.call('ZREM', KEYS[2], c[4])
redis.call('ZREM', KEYS[3], c[4])
redis.call('HSET', KEYS[1], 'state', 'abandoned', 'ended_at', fmt_time(now), 'lawyer', '',
  'offer_deadline', '', 'ended_by', ARGV[5])
redis.call('HINCRBY', KEYS[7], 'abandoned', 1)
redis.call('HINCRBYFLOAT', KEYS[7], 'wait_abandoned_s', now - tonumber(c[3]))
expire_contact(KEYS[1], ARGV[8])
fields[#fields + 1] = 'contact'
fields[#fields + 1] = contact_json(KEYS[1])
fields[#fields + 1] = 'reason'
fields[#fields + 1] = ARGV[5]
emit(KEYS[5], ARGV[2], 'contact.abandoned', now, fields)
return 1
