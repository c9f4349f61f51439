--[[
  The lawyer asks for more wrap-up time (a summary to write, a case to open): the
  deadline moves on by ARGV[4] seconds, at most ARGV[5] times per wrap-up.
  KEYS[1] lawyer hash   KEYS[2] wrapups zset   KEYS[3] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id   ARGV[4] seconds to add
  ARGV[5] extensions allowed per wrap-up
  Returns 1 extended; 0 not in wrap-up; -1 no extension left for this wrap-up.
]]
--@include common
local now = tonumber(ARGV[1])
local until_ = tonumber(redis.call('HGET', KEYS[1], 'wrapup_until')) or 0
if until_ == 0 then
  return 0
end
local used = tonumber(redis.call('HGET', KEYS[1], 'wrapup_extensions')) or 0
if used >= tonumber(ARGV[5]) then
  return -1
end
-- From the deadline, or from now if the sweeper has not ended an overdue one yet.
local new_until = math.max(until_, now) + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'wrapup_until', fmt_time(new_until), 'wrapup_extensions', used + 1)
redis.call('HINCRBY', KEYS[1], 'wrapups_extended', 1)
redis.call('ZADD', KEYS[2], new_until, ARGV[3])
emit(KEYS[3], ARGV[2], 'lawyer.wrapup_extended', now, {'lawyer', lawyer_json(KEYS[1])})
return 1
