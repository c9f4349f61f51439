--[[
  Offer a waiting contact to a lawyer: the commit of a routing decision.
  Re-checks everything another process may have changed since it decided.
  KEYS[1] contact hash   KEYS[2] lawyer hash   KEYS[3] waiting zset   KEYS[4] offers zset
  KEYS[5] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id   ARGV[4] offer deadline
  Returns 1 offered; -1 contact not waiting; -2 no such lawyer; -3 lawyer not free;
  -4 lawyer lacks the contact's language; -5 no capacity left on the channel.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'channel', 'language', 'id')
if c[1] ~= 'waiting' then
  return -1
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -2
end
local l = redis.call('HMGET', KEYS[2], 'presence', 'offer', 'wrapup_until', 'languages',
  'load_voice', 'load_video', 'cap_voice', 'cap_video')
if l[1] ~= 'available' or (l[2] and l[2] ~= '') or (tonumber(l[3]) or 0) ~= 0 then
  return -3
end
if not string.find(l[4] or '', ',' .. c[3] .. ',', 1, true) then
  return -4
end
local load = {voice = tonumber(l[5]) or 0, video = tonumber(l[6]) or 0}
local cap = {voice = tonumber(l[7]) or 0, video = tonumber(l[8]) or 0}
for ch, n in pairs(load) do
  if (ch == c[2] and n >= cap[ch]) or (ch ~= c[2] and n > 0) then
    return -5
  end
end
redis.call('HSET', KEYS[1], 'state', 'offered', 'lawyer', ARGV[3], 'offer_deadline', ARGV[4])
redis.call('ZREM', KEYS[3], c[4])
redis.call('ZADD', KEYS[4], ARGV[4], c[4])
redis.call('HSET', KEYS[2], 'offer', c[4])
refresh_lawyer(KEYS[2], now)
emit(KEYS[5], ARGV[2], 'contact.offered', now,
  {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(KEYS[2])})
return 1
