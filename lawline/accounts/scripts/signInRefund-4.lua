--[[
  Takes back the attempt signInAttempt counted: the password was right, or it was
  never checked (the process was too busy). After a right one this account's
  failures from this source start again at zero and the source becomes a known
  desk for ARGV[2] ms.
  KEYS[1] failures of this account from this source   KEYS[2] failures of this account
  KEYS[3] failures from this source, any account      KEYS[4] the known-desk marker
  ARGV[1] "right" or "unchecked"   ARGV[2] how long a known desk is remembered (ms)
  Returns 1.
]]
local first = 1
if ARGV[1] == 'right' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[4], '1', 'PX', tonumber(ARGV[2]))
  first = 2
end
for i = first, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
