--[[
  A supervisor gives a waiting caller to a named lawyer (from the wallboard): the caller
  is held for that lawyer as for a chosen lawyer, for routing.preferred_lawyer_s from
  now, then offered to anyone. A caller already ringing a lawyer is left as it is.
  KEYS[1] contact hash   KEYS[2] events stream   KEYS[3] the named lawyer's hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] the lawyer's id
  Returns 1 assigned; -1 not waiting (ringing a lawyer, taken or gone); -2 no such lawyer.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting' then
  return -1
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return -2
end
redis.call('HSET', KEYS[1], 'preferred_lawyer', ARGV[3], 'transferred_at', fmt_time(now))
emit(KEYS[2], ARGV[2], 'contact.assigned', now, {'contact', contact_json(KEYS[1])})
return 1
