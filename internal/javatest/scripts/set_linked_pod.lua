-- Java setLinkedPod: as sfotel's script before it read the hash field (link key first,
-- tonumber for pod IDs, no input validation).
-- KEYS[1] link hash, KEYS[2] link key; ARGV[1] service, ARGV[2] pod,
-- ARGV[3] persistSeconds ('-1' persistent). Returns the previous pod or -1.
local previous = redis.call('GET', KEYS[2])
if ARGV[3] == '-1' then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  redis.call('HDEL', KEYS[1], ARGV[1])
end
if not previous then
  return -1
end
return tonumber(previous)
