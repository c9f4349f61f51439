#!lua flags=no-writes
--[[
  Everything a router needs to start, read atomically with the stream position
  it is current to, so following the stream from there misses nothing.
  KEYS[1] waiting zset   KEYS[2] lawyers set   KEYS[3] events stream
  ARGV[1] key prefix
  Returns {last event id, {contact hash as flat list, ...}, {lawyer hash as flat list, ...}}
]]
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then
  last_id = last[1][1]
end
local contacts = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  contacts[#contacts + 1] = redis.call('HGETALL', ARGV[1] .. ':contact:' .. id)
end
local lawyers = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  lawyers[#lawyers + 1] = redis.call('HGETALL', ARGV[1] .. ':lawyer:' .. id)
end
return {last_id, contacts, lawyers}
