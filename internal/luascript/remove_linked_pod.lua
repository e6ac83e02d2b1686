-- RemoveLinkedPod: drop a user's link to a service.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
-- ARGV[2]  persistSeconds: "-1" = delete the link now, else keep it as a
--          temporary link for that many seconds (a reconnect grace period)
--
-- Returns 1 when a link existed (as sf_link reads it: a Java-computed hash
-- field alone counts), else 0; {that, skipped} when stored values that are
-- not pod IDs were passed over (they are cleared).
-- The grace period keeps the pod sf_link read, so a link that was only a
-- hash field stays reachable for the grace time too. Unlike the Java script,
-- which deletes the link and then expires the deleted key, the grace period
-- really happens here (docs/java.md).

local current, _, skipped = sf_link(KEYS[1], KEYS[2], ARGV[1], false)
redis.call('HDEL', KEYS[1], ARGV[1])
if current and ARGV[2] ~= '-1' then
  redis.call('SET', KEYS[2], tostring(current), 'EX', ARGV[2])
else
  redis.call('DEL', KEYS[2])
end
return sf_reply(current and 1 or 0, skipped)
