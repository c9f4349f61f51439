--[[
  A connected contact ends (either side hung up): the lawyer goes to wrap-up.
  KEYS[1] contact hash   KEYS[2] wrapups zset   KEYS[3] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] key prefix (for the lawyer's and the queue's stats hashes)
  ARGV[4] wrap-up seconds   ARGV[5] who ended it: caller|lawyer|system
  Returns 1 ended; 0 already ended; -1 not connected (use abandonContact).
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
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', fmt_time(now), 'ended_by', ARGV[5])
local lkey = ARGV[3] .. ':lawyer:' .. c[2]
release_lawyer(lkey, c[3], c[6])
start_wrapup(lkey, KEYS[2], c[2], now, tonumber(ARGV[4]))
refresh_lawyer(lkey, now)
local stats = ARGV[3] .. ':stats:' .. c[5]
redis.call('HINCRBY', stats, 'handled', 1)
redis.call('HINCRBYFLOAT', stats, 'talk_s', now - tonumber(c[4]))
emit(KEYS[3], ARGV[2], 'contact.ended', now,
  {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(lkey), 'reason', ARGV[5]})
return 1
