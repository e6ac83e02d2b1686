-- Java removeLinkedPodWithId: as removeLinkedPod, only when the link key
-- holds the pod. KEYS as remove_linked_pod.lua; ARGV[1] service, ARGV[2]
-- persistSeconds, ARGV[3] pod. Returns 1 when removed, else 0.
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if ARGV[2] ~= '-1' then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
