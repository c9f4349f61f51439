--[[
  A lawyer goes on duty, on break or off duty (or the system takes a silent
  console offline). Anything offered to a lawyer who leaves goes back to the queue.
  KEYS[1] lawyer hash   KEYS[2] offers zset   KEYS[3] waiting zset   KEYS[4] events stream
  KEYS[5] consoles zset (lawyer id -> when their console was last heard from)
  KEYS[6] the hash of the contact offered to the lawyer (P:contact: when none)
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] the offer KEYS[6] was built from ('' none)
  ARGV[4] presence: available|break|offline   ARGV[5] break reason
  ARGV[6] only if the console was last heard from before this time (0: unconditionally)
  Returns 1 changed; 0 heard from since (nothing changed); -1 no such lawyer;
  -99 (STALE) the lawyer's offer changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local l = redis.call('HMGET', KEYS[1], 'offer', 'id')
if (l[1] or '') ~= ARGV[3] then
  return STALE
end
local stale_before = tonumber(ARGV[6])
local seen = tonumber(redis.call('ZSCORE', KEYS[5], l[2]))
if stale_before > 0 and (seen or 0) >= stale_before then
  return 0
end
local fields = {}
if ARGV[4] ~= 'available' and l[1] and l[1] ~= '' then
  local ckey = KEYS[6]
  requeue(ckey, KEYS[3], KEYS[2], l[1])
  redis.call('HSET', KEYS[1], 'offer', '')
  fields = {'contact', contact_json(ckey), 'reason', 'gone'}
end
redis.call('HSET', KEYS[1], 'presence', ARGV[4], 'break_reason', ARGV[5])
if ARGV[4] == 'available' then
  redis.call('HSET', KEYS[1], 'missed', 0)
  redis.call('ZADD', KEYS[5], now, l[2])
elseif ARGV[4] == 'offline' then
  redis.call('ZREM', KEYS[5], l[2])
end
refresh_lawyer(KEYS[1], now)
fields[#fields + 1] = 'lawyer'
fields[#fields + 1] = lawyer_json(KEYS[1])
emit(KEYS[4], ARGV[2], 'lawyer.presence', now, fields)
return 1
