-- The Java executor's compute-if-absent script, as docs/java.md describes it.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}     the user's link hash
-- KEYS[2]  sf:{<ns>:state:<svc>}  the service's pod states (another hash tag:
--                                 CROSSSLOT on a Redis Cluster)
-- ARGV[1]  service name
-- ARGV[2]  the oldest heartbeat still alive, in the unit the pods write
--
-- If the hash has a field for the service, returns that pod. Otherwise reads
-- every state, splits it at its first '-' into load and heartbeat, keeps the
-- pods whose heartbeat is >= ARGV[2], picks the lowest load (ties in Lua
-- pairs order), HSETs only the hash field (no link key) and returns the
-- pod; -1 when no pod is alive. Fails the whole call on a state without
-- '-', or with a negative or non-numeric load (and, comparing nil, on a
-- non-numeric heartbeat).

local linked = redis.call('HGET', KEYS[1], ARGV[1])
if linked then
  return tonumber(linked)
end
local flat = redis.call('HGETALL', KEYS[2])
local states = {}
for i = 1, #flat, 2 do
  states[flat[i]] = flat[i + 1]
end
local oldest = tonumber(ARGV[2])
local best, best_load
for pod, state in pairs(states) do
  local dash = string.find(state, '-', 1, true)
  if not dash then
    return redis.error_reply('ERR java: pod state without -')
  end
  local load = tonumber(string.sub(state, 1, dash - 1))
  if not load or load < 0 then
    return redis.error_reply('ERR java: pod state load is not a number of 0 or more')
  end
  local heartbeat = tonumber(string.sub(state, dash + 1))
  if heartbeat >= oldest then
    if not best or load < best_load then
      best, best_load = pod, load
    end
  end
end
if not best then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], best)
return tonumber(best)
