-- Java setLinkedPodIfAbsent: an existing link key wins (the hash field is
-- not read). KEYS and ARGV as set_linked_pod.lua. Returns the pod linked
-- afterwards.
local current = redis.call('GET', KEYS[2])
if current then
  return tonumber(current)
end
if ARGV[3] == '-1' then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return tonumber(ARGV[2])
