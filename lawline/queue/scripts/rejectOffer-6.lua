--[[
  An offer is declined, times out, or its lawyer vanished: the contact goes back to
  the queue with its original entry time, remembering who passed it over so it
  goes to a colleague first. Missed offers (timeouts) count towards the
  automatic break.
  KEYS[1] contact hash   KEYS[2] lawyer hash   KEYS[3] offers zset   KEYS[4] waiting zset
  KEYS[5] events stream   KEYS[6] the contact's queue stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id   ARGV[4] reason: rejected|timeout|gone
  ARGV[5] missed offers in a row that put the lawyer on break
  ARGV[6] service KEYS[6] was built from
  Returns 1 requeued, 2 requeued and the lawyer put on break; -1 the offer is not this
  lawyer's any more; -2 (timeout only) the offer has not expired yet;
  -99 (STALE) the contact's service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'offer_deadline', 'id', 'service')
if c[1] ~= 'offered' or c[2] ~= ARGV[3] then
  return -1
end
if ARGV[4] == 'timeout' and tonumber(c[3]) > now then
  return -2
end
if refs_stale(c[2], c[5], ARGV[3], ARGV[6]) then
  return STALE
end
requeue(KEYS[1], KEYS[4], KEYS[3], c[4])
local declined = redis.call('HGET', KEYS[1], 'declined_by') or ''
if not string.find(declined, ',' .. ARGV[3] .. ',', 1, true) then
  if declined == '' then
    declined = ','
  end
  redis.call('HSET', KEYS[1], 'declined_by', declined .. ARGV[3] .. ',')
end
redis.call('HINCRBY', KEYS[6], 'offers_' .. ARGV[4], 1)
local result = 1
redis.call('HSET', KEYS[2], 'offer', '')
if ARGV[4] == 'timeout' then
  local missed = redis.call('HINCRBY', KEYS[2], 'missed', 1)
  if missed >= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[2], 'presence', 'break', 'break_reason', 'missed offers')
    result = 2
  end
end
refresh_lawyer(KEYS[2], now)
emit(KEYS[5], ARGV[2], 'contact.requeued', now,
  {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(KEYS[2]), 'reason', ARGV[4]})
return result
