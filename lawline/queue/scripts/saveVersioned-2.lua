--[[
  An admin saves one of the centre's rule documents edited in the browser (the public-
  opinion watch list, the routing policy): it replaces the one in force (every process
  takes it within seconds) and is kept in its history with who and when.
  KEYS[1] the document in force (hash)   KEYS[2] its history (stream)
  ARGV[1] the document (JSON)   ARGV[2] who   ARGV[3] when (epoch seconds)
  ARGV[4] history entries kept (approximately)
  Returns the new version.
]]
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
  'version', version, 'doc', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
return version
