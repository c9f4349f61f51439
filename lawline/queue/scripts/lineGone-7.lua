--[[
  The caller's line is gone (they hung up, the telephony worker holding the call died,
  the resident hung up at the terminal), decided on the contact's state at this moment,
  so a lawyer accepting just before cannot be left talking to no one. Waiting or
  offered: abandoned, an offer withdrawn with nothing counted against the lawyer.
  Connected: ended, the lawyer goes to wrap-up. Already over, or a callback waiting for
  its retry: left as it is.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] offers zset   KEYS[4] wrapups zset
  KEYS[5] events stream   KEYS[6] the contact's lawyer hash (P:lawyer: when none)
  KEYS[7] the contact's queue stats hash
  ARGV[1] now   ARGV[2] events maxlen
  ARGV[3] lawyer id and ARGV[4] service KEYS[6] and KEYS[7] were built from
  ARGV[5] reason, if abandoned   ARGV[6] who ended it, if connected   ARGV[7] wrap-up seconds
  ARGV[8] seconds the contact's hash is kept once over (0: for ever)
  Returns 1 abandoned; 2 ended; 0 nothing to do; -2 no such contact;
  -99 (STALE) the contact's lawyer or service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = hmget(KEYS[1], CONTACT_ENDING_FIELDS)
if not c.state then
  return -2
end
if c.state ~= 'waiting' and c.state ~= 'offered' and c.state ~= 'connected' then
  return 0
end
if refs_stale(c.lawyer, c.service, ARGV[3], ARGV[4]) then
  return STALE
end
local k = {contact = KEYS[1], waiting = KEYS[2], offers = KEYS[3], wrapups = KEYS[4],
  events = KEYS[5], lawyer = KEYS[6], stats = KEYS[7]}
if c.state == 'connected' then
  end_contact(k, c, now, ARGV[6], ARGV[7], ARGV[2], ARGV[8])
  return 2
end
abandon_contact(k, c, now, ARGV[5], ARGV[2], ARGV[8])
return 1
