-- SetLinkedPod: link a user to a pod of one service, whatever was there.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
-- ARGV[2]  pod ID (decimal)
-- ARGV[3]  persistSeconds: "-1" = persistent, else the link's TTL in seconds
--
-- Returns the previous pod ID, or -1 when there was no link.
-- Both keys share one hash tag, so this runs on one Redis Cluster slot.

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
local pod = sf_pod(previous)
if not pod then
  return redis.error_reply('ERR sfotel: link value is not a pod ID')
end
return pod
