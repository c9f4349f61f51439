--[[
  The right password: this account's failures from this source start again at
  zero, and the attempt signInAttempt counted is taken back from the others.
  KEYS[1] failures of this account from this source   KEYS[2] failures of this account
  KEYS[3] failures from this source, any account
  Returns 1.
]]
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
