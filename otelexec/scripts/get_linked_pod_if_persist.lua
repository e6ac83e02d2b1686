-- GetLinkedPodIfPersist: read a link only if it is persistent (has no TTL).
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
--
-- Returns the pod ID, or -1 when there is no link or it is temporary.
-- One script, so the value and its TTL are read atomically.

local current = redis.call('GET', KEYS[1])
if not current or redis.call('PTTL', KEYS[1]) ~= -1 then
  return -1
end
local pod = sf_pod(current)
if not pod then
  return redis.error_reply('ERR sfotel: link value is not a pod ID')
end
return pod
