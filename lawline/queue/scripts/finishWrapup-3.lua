--[[
  Wrap-up is over: its time ran out, or the lawyer said they are ready.
  KEYS[1] lawyer hash   KEYS[2] wrapups zset   KEYS[3] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id   ARGV[4] 1: ready now, 0: only if due
  Returns 1 finished; 0 not due yet or not in wrap-up.
]]
--@include common
local now = tonumber(ARGV[1])
local until_ = tonumber(redis.call('HGET', KEYS[1], 'wrapup_until')) or 0
if until_ == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 0
end
if ARGV[4] ~= '1' and until_ > now then
  return 0  -- extended since the sweeper looked; its new deadline is scheduled
end
redis.call('HSET', KEYS[1], 'wrapup_until', 0, 'wrapup_extensions', 0)
redis.call('ZREM', KEYS[2], ARGV[3])
refresh_lawyer(KEYS[1], now)
emit(KEYS[3], ARGV[2], 'lawyer.ready', now, {'lawyer', lawyer_json(KEYS[1])})
return 1
