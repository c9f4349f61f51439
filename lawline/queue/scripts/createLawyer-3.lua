--[[
  A new duty lawyer: their profile (skills, languages, capacity, roster), off duty.
  An id that exists already is refused and nothing changes (PATCH changes a profile).
  KEYS[1] lawyer hash   KEYS[2] lawyers set   KEYS[3] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3..] profile fields as name, value pairs
  Returns 1 created; 0 a lawyer with this id exists.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'presence', 'offline', 'offer', '', 'load_voice', 0,
  'load_video', 0, 'wrapup_until', 0, 'missed', 0, 'handled', 0, 'idle_since', fmt_time(now))
redis.call('SADD', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
refresh_lawyer(KEYS[1], now)
emit(KEYS[3], ARGV[2], 'lawyer.created', now, {'lawyer', lawyer_json(KEYS[1])})
return 1
