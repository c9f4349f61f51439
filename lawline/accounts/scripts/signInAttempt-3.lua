--[[
  A sign-in attempt is counted before its password is checked (so simultaneous
  guesses all count); one that succeeds is refunded by signInSucceeded.
  Each counter lives for ARGV[1] ms after the attempt that last raised it.
  KEYS[1] failures of this account from this source   KEYS[2] failures of this account
  KEYS[3] failures from this source, any account
  ARGV[1] window (ms)
  Returns {pair, account, source}: each counter with this attempt included.
]]
local window = tonumber(ARGV[1])
local counts = {}
for i = 1, 3 do
  counts[i] = redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], window)
end
return counts
