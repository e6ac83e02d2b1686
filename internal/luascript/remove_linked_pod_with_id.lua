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
-- Returns 1 when the link (as sf_link reads it) pointed to that pod and was
-- removed, else 0; {that, skipped} when stored values that are not pod IDs
-- were passed over (a link that is not a pod ID points to no pod).

local current, _, skipped = sf_link(KEYS[1], KEYS[2], ARGV[1], false)
if current ~= tonumber(ARGV[3]) then
  return sf_reply(0, skipped)
end
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[2] == '-1' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
end
return sf_reply(1, skipped)
