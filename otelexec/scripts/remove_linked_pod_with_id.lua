-- RemoveLinkedPodWithID: as RemoveLinkedPod, but only when the link points
-- to the given pod; a link to another pod is left alone.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
-- ARGV[2]  persistSeconds: "-1" = delete the link now, else keep it as a
--          temporary link for that many seconds (a reconnect grace period)
-- ARGV[3]  pod ID (decimal) the link must point to
--
-- Returns 1 when the link to that pod existed and was removed, else 0.

if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[2] == '-1' then
  redis.call('DEL', KEYS[2])
else
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
