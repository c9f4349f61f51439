--[[
  A callback's dial-out was not answered (busy, no answer, unreachable): the lawyer
  is free again, not charged with a conversation, and the contact is tried again
  later, or given up after the last attempt.
  KEYS[1] contact hash   KEYS[2] callbacks zset (retry times)   KEYS[3] events stream
  KEYS[4] the contact's lawyer hash   KEYS[5] its queue's stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id and ARGV[8] service KEYS[4] and
  KEYS[5] were built from   ARGV[4] retry at   ARGV[5] attempts allowed   ARGV[6] reason
  ARGV[7] service-level seconds   ARGV[9] seconds the hash is kept once given up (0: for ever)
  Returns 1 scheduled for a retry; 2 given up (abandoned); -1 not a connected callback;
  -99 (STALE) the contact's lawyer or service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'channel', 'id', 'service',
  'callback', 'callback_attempts', 'entered_at', 'answered_at')
if c[1] ~= 'connected' or c[6] ~= '1' then
  return -1
end
if refs_stale(c[2], c[5], ARGV[3], ARGV[8]) then
  return STALE
end
-- The lawyer never talked to anyone: take back the answer accept counted.
local lkey = KEYS[4]
release_lawyer(lkey, c[3], c[4])
refresh_lawyer(lkey, now)
local stats = KEYS[5]
local waited = tonumber(c[9]) - tonumber(c[8])
redis.call('HINCRBY', stats, 'answered', -1)
redis.call('HINCRBYFLOAT', stats, 'wait_answered_s', -waited)
if waited <= tonumber(ARGV[7]) then
  redis.call('HINCRBY', stats, 'answered_in_sl', -1)
end
local attempts = (tonumber(c[7]) or 0) + 1
redis.call('HSET', KEYS[1], 'callback_attempts', attempts, 'lawyer', '', 'answered_at', '',
  'last_attempt_at', fmt_time(now), 'last_attempt_result', ARGV[6])
local fields = {'lawyer', lawyer_json(lkey), 'reason', ARGV[6]}
if attempts >= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'state', 'abandoned', 'ended_at', fmt_time(now),
    'ended_by', 'callback not answered')
  redis.call('HINCRBY', stats, 'abandoned', 1)
  redis.call('HINCRBYFLOAT', stats, 'wait_abandoned_s', now - tonumber(c[8]))
  expire_contact(KEYS[1], ARGV[9])
  table.insert(fields, 1, contact_json(KEYS[1]))
  table.insert(fields, 1, 'contact')
  emit(KEYS[3], ARGV[2], 'contact.abandoned', now, fields)
  return 2
end
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'retry_at', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], c[4])
table.insert(fields, 1, contact_json(KEYS[1]))
table.insert(fields, 1, 'contact')
emit(KEYS[3], ARGV[2], 'contact.callback_failed', now, fields)
return 1
