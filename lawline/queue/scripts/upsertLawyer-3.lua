--[[
  Create a lawyer or change their profile (skills, languages, capacity, roster).
  Work in hand and presence are left as they are.
  KEYS[1] lawyer hash   KEYS[2] lawyers set   KEYS[3] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3..] profile fields as name, value pairs
  Returns 1 created, 0 updated.
]]
--@include common
local now = tonumber(ARGV[1])
local created = redis.call('EXISTS', KEYS[1]) == 0
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
if created then
  redis.call('HSET', KEYS[1], 'presence', 'offline', 'offer', '', 'load_voice', 0,
    'load_video', 0, 'wrapup_until', 0, 'missed', 0, 'handled', 0, 'idle_since', fmt_time(now))
  redis.call('SADD', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
end
refresh_lawyer(KEYS[1], now)
emit(KEYS[3], ARGV[2], created and 'lawyer.created' or 'lawyer.updated', now,
  {'lawyer', lawyer_json(KEYS[1])})
return created and 1 or 0
