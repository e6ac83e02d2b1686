-- RemoveLinkedPod: drop a user's link to a service.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
-- ARGV[2]  persistSeconds: "-1" = delete the link now, else keep it as a
--          temporary link for that many seconds (a reconnect grace period)
--
-- Returns 1 when a link existed, else 0.
-- Unlike the Java script, which deletes the link and then expires the deleted
-- key, the grace period really happens here (see the package documentation).

redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
if ARGV[2] == '-1' then
  redis.call('DEL', KEYS[2])
else
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
