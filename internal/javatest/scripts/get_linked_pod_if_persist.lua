-- Java getLinkedPodIfPersist: the link key, if it has no TTL.
-- KEYS[1] link key. Returns the pod or -1.
local current = redis.call('GET', KEYS[1])
if not current or redis.call('PTTL', KEYS[1]) ~= -1 then
  return -1
end
return tonumber(current)
