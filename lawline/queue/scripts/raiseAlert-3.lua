--[[
  Something said in a conversation matched a public-opinion alert phrase: tell the
  supervisors (the event) and keep it on the alert list, in one step.
  KEYS[1] contact hash   KEYS[2] events stream   KEYS[3] alerts list
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] alert JSON   ARGV[4] alerts kept
  Returns 1 raised; -1 no such contact.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
emit(KEYS[2], ARGV[2], 'transcript.alert', now, {'contact', contact_json(KEYS[1]), 'alert', ARGV[3]})
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
return 1
