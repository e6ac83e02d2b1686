-- Java trySetLinkedPod: refused only by a link key without TTL to another
-- pod (the hash field is not read). KEYS and ARGV as set_linked_pod.lua.
-- Returns {1, pod} when set, {0, current} when refused.
local current = redis.call('GET', KEYS[2])
if current and current ~= ARGV[2] and redis.call('PTTL', KEYS[2]) == -1 then
  return {0, tonumber(current)}
end
if ARGV[3] == '-1' then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return {1, tonumber(ARGV[2])}
