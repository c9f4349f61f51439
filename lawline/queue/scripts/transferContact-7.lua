--[[
  The lawyer hands a connected contact on: to a named colleague, or back to a
  service queue, with a note for whoever answers next. The caller waits again at
  their old place (hold music); the lawyer goes to wrap-up as after any conversation.
  KEYS[1] contact hash   KEYS[2] waiting zset   KEYS[3] wrapups zset   KEYS[4] events stream
  KEYS[5] the handing lawyer's hash   KEYS[6] the contact's queue stats hash
  KEYS[7] the target lawyer's hash (P:lawyer: when none)
  ARGV[1] now   ARGV[2] events maxlen   ARGV[3] the contact's service KEYS[6] was built from   ARGV[4] wrap-up seconds
  ARGV[5] the lawyer handing it on   ARGV[6] to this lawyer ('' any)
  ARGV[7] to this service queue ('' the same)   ARGV[8] the note
  Returns 1 transferred; -1 not this lawyer's connected contact; -2 no such target lawyer;
  -99 (STALE) the contact's service changed: read again.
]]
--@include common
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'state', 'lawyer', 'channel', 'answered_at', 'service',
  'id', 'entered_at', 'attrs')
if c[1] ~= 'connected' or c[2] ~= ARGV[5] then
  return -1
end
if refs_stale(c[2], c[5], ARGV[5], ARGV[3]) then
  return STALE
end
if ARGV[6] ~= '' and redis.call('EXISTS', KEYS[7]) == 0 then
  return -2
end
local lkey = KEYS[5]
release_lawyer(lkey, c[3], c[6])
start_wrapup(lkey, KEYS[3], c[2], now, tonumber(ARGV[4]))
refresh_lawyer(lkey, now)
local stats = KEYS[6]
redis.call('HINCRBY', stats, 'transferred', 1)
local talk_s = now - tonumber(c[4])
redis.call('HINCRBYFLOAT', stats, 'talk_s', talk_s)
-- The notes travel with the contact, oldest first.
local attrs = cjson.decode(c[8] or '{}')
local notes = attrs['notes'] or ''
if notes ~= '' then
  notes = notes .. '\n'
end
attrs['notes'] = notes .. c[2] .. ': ' .. ARGV[8]
local service = c[5]
if ARGV[7] ~= '' then
  service = ARGV[7]
end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'lawyer', '', 'answered_at', '',
  'service', service, 'preferred_lawyer', ARGV[6], 'attrs', cjson.encode(attrs),
  'transferred_by', c[2], 'transferred_at', fmt_time(now), 'declined_by', c[2] .. ',')
redis.call('ZADD', KEYS[2], c[7], c[6])
-- answered_at is cleared for whoever answers next: the event keeps this lawyer's talk.
emit(KEYS[4], ARGV[2], 'contact.transferred', now,
  {'contact', contact_json(KEYS[1]), 'lawyer', lawyer_json(lkey), 'reason', ARGV[8],
   'talk_s', fmt_time(talk_s)})
return 1
