--[[
  The lawyer saves the case form of a contact they handled (during the call or in
  wrap-up); saving again replaces the form.
  KEYS[1] contact hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] lawyer id   ARGV[4] the form, JSON
  Returns 1 saved; -1 not this lawyer's contact; -2 not connected or ended.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer')
if c[2] ~= ARGV[3] then
  return -1
end
if c[1] ~= 'connected' and c[1] ~= 'ended' then
  return -2
end
redis.call('HSET', KEYS[1], 'case', ARGV[4], 'case_saved_at', fmt_time(now))
emit(KEYS[2], ARGV[2], 'contact.case_saved', now, {'contact', contact_json(KEYS[1])})
return 1
