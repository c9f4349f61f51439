--[[
  The caller leaves before being connected (hung up, line dead, terminal closed).
  An offer in progress is withdrawn; the lawyer is free again, nothing counted
  against them.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] offers zset   KEYS[4] events stream
  KEYS[5] the contact's lawyer hash (P:lawyer: when none)   KEYS[6] its queue's stats hash
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] reason
  ARGV[4] lawyer id and ARGV[5] service KEYS[5] and KEYS[6] were built from
  ARGV[6] seconds the contact's hash is kept once over (0: for ever)
  Returns 1 abandoned; 0 already ended or abandoned; -1 connected (use endContact);
  -2 no such contact; -99 (STALE) the contact's lawyer or service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = hmget(KEYS[1], CONTACT_ENDING_FIELDS)
if not c.state then
  return -2
end
if c.state == 'ended' or c.state == 'abandoned' then
  return 0
end
if c.state == 'connected' then
  return -1
end
if refs_stale(c.lawyer, c.service, ARGV[4], ARGV[5]) then
  return STALE
end
local k = {contact = KEYS[1], waiting = KEYS[2], offers = KEYS[3], events = KEYS[4],
  lawyer = KEYS[5], stats = KEYS[6]}
abandon_contact(k, c, now, ARGV[3], ARGV[2], ARGV[6])
return 1
