--[[
  An admin saves the public-opinion watch list: it replaces the one in force (every
  process takes it within seconds), and is kept in the history with who and when.
  KEYS[1] the list in force (hash)   KEYS[2] the history (stream)
  ARGV[1] the phrases (JSON)   ARGV[2] who   ARGV[3] when (epoch seconds)
  ARGV[4] history entries kept (approximately)
  Returns the new version.
]]
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'phrases', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
  'version', version, 'phrases', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
return version
