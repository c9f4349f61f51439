--[[
  A conversation's transcript is complete (the last finals are stored): tell the
  ledger, which copies it into the case database.
  KEYS[1] contact hash   KEYS[2] events stream
  ARGV[1] now   ARGV[2] events maxlen
  Returns 1 told; -1 no such contact.
]]
--@include common
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
emit(KEYS[2], ARGV[2], 'transcript.closed', now, {'contact', contact_json(KEYS[1])})
return 1
