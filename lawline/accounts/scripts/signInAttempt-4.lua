--[[
  A sign-in attempt is counted before its password is checked (so simultaneous
  guesses all count); signInRefund takes it back if it succeeds or goes unchecked.
  Each counter lives for ARGV[1] ms after the attempt that last raised it.
  KEYS[1] failures of this account from this source   KEYS[2] failures of this account
  KEYS[3] failures from this source, any account
  KEYS[4] present if this account signed in from this source lately (a known desk)
  ARGV[1] window (ms)
  Returns {pair, account, source, known}: the counters with this attempt included,
  known 1 or 0.
]]
local window = tonumber(ARGV[1])
local result = {}
for i = 1, 3 do
  result[i] = redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], window)
end
result[4] = redis.call('EXISTS', KEYS[4])
return result
