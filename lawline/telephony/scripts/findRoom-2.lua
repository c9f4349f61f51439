--[[
  A party dialling in entered a mediation room's number and their PIN: the seat they
  open, unless this caller has entered too many wrong codes lately (a PIN is six
  digits: a caller must not try them all). A wrong code raises the caller's count,
  which lives for ARGV[3] s after the first of the window.
  KEYS[1] the room's hash (P:party-room:NUMBER)
  KEYS[2] this caller's wrong codes (P:room-code-fails:HASH)
  ARGV[1] the PIN's field (pin:PIN)   ARGV[2] wrong codes allowed   ARGV[3] window (s)
  Returns {'found', case_id, inbox, seat}, {'wrong'} or {'blocked'}.
]]
local fails = tonumber(redis.call('GET', KEYS[2]) or '0')
if fails >= tonumber(ARGV[2]) then
  return {'blocked'}
end
local room = redis.call('HMGET', KEYS[1], 'case_id', 'inbox', ARGV[1])
if room[1] and room[2] and room[3] then
  return {'found', room[1], room[2], room[3]}
end
if redis.call('INCR', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return {'wrong'}
