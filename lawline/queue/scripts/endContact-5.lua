--[[
  A connected contact ends (either side hung up): the lawyer goes to wrap-up.
  KEYS[1] contact hash   KEYS[2] wrapups zset   KEYS[3] events stream
  KEYS[4] the contact's lawyer hash   KEYS[5] its queue's stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] who ended it: caller|lawyer|system
  ARGV[4] wrap-up seconds   ARGV[5] lawyer id and ARGV[6] service KEYS[4] and KEYS[5] were built from
  ARGV[7] seconds the contact's hash is kept once over (0: for ever)
  Returns 1 ended; 0 already ended; -1 not connected (use abandonContact);
  -99 (STALE) the contact's lawyer or service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = hmget(KEYS[1], CONTACT_ENDING_FIELDS)
if c.state == 'ended' then
  return 0
end
if c.state ~= 'connected' then
  return -1
end
if refs_stale(c.lawyer, c.service, ARGV[5], ARGV[6]) then
  return STALE
end
local k = {contact = KEYS[1], wrapups = KEYS[2], events = KEYS[3], lawyer = KEYS[4],
  stats = KEYS[5]}
end_contact(k, c, now, ARGV[3], ARGV[4], ARGV[2], ARGV[7])
return 1
