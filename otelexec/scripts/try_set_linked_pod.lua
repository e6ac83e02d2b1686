-- TrySetLinkedPod: link a user to a pod unless a persistent link to another
-- pod exists. A temporary link, or a link to the same pod, is replaced.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID; no TTL = persistent)
-- ARGV[1]  service name
-- ARGV[2]  pod ID (decimal)
-- ARGV[3]  persistSeconds: "-1" = persistent, else the link's TTL in seconds
--
-- Returns {1, ARGV[2]} when the link was set, {0, current pod} when a
-- persistent link to another pod won.

local current = redis.call('GET', KEYS[2])
if current and current ~= ARGV[2] and redis.call('PTTL', KEYS[2]) == -1 then
  local pod = sf_pod(current)
  if not pod then
    return redis.error_reply('ERR sfotel: link value is not a pod ID')
  end
  return {0, pod}
end

if ARGV[3] == '-1' then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return {1, tonumber(ARGV[2])}
