#!lua flags=no-writes
--[[
  Everything a router needs to start, read atomically with the stream position
  it is current to, so following the stream from there misses nothing.
  Every hash read is declared: the caller lists the waiting contacts and the lawyers
  it has just read from the two index sets, and this script checks that no id has
  joined either set since (ids that have left are skipped). If one has, it returns
  the retry mark and the caller reads the sets again.
  KEYS[1] waiting zset   KEYS[2] lawyers set   KEYS[3] events stream
  KEYS[4 .. 3+N] the contact hashes of ARGV[2 .. 1+N]
  KEYS[4+N ..] the lawyer hashes of ARGV[2+N ..]
  ARGV[1] N, the number of contact ids   ARGV[2 ..] contact ids, then lawyer ids
  Returns {last event id, {contact hash as flat list, ...}, {lawyer hash as flat list, ...}},
  or {'retry'} when a set has a member that was not listed.
]]
local n = tonumber(ARGV[1])
local key_of = {}
for i = 2, #ARGV do
  local kind = i <= n + 1 and 'c' or 'l'
  key_of[kind .. ARGV[i]] = KEYS[i + 2]
end
local contacts = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = key_of['c' .. id]
  if not key then
    return {'retry'}
  end
  contacts[#contacts + 1] = redis.call('HGETALL', key)
end
local lawyers = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = key_of['l' .. id]
  if not key then
    return {'retry'}
  end
  lawyers[#lawyers + 1] = redis.call('HGETALL', key)
end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then
  last_id = last[1][1]
end
return {last_id, contacts, lawyers}
