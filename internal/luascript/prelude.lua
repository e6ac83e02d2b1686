-- The prelude of every sfotel script: otelexec/scripts.go prepends this file
-- to each script before it computes the script's SHA1, so every script
-- shares one definition of what a stored pod ID is.

-- sf_pod returns the pod ID that the stored value s holds, or nil when s is
-- not one. A stored pod ID has one form, canonical decimal: 1 to 10 digits,
-- no sign, no space, no leading zero except "0" itself, at most 2147483647.
-- Lua's tonumber would also take " 1", "1.0", "1.9", "0x10", "1e2" and "007";
-- the Go readers (parsePodID in otelexec/results.go) take none of them, and
-- both are tested on one table of values (otelexec/testdata/podids.json).
local function sf_pod(s)
  if type(s) ~= 'string' or #s > 10 or not string.find(s, '^%d+$') then
    return nil
  end
  if #s > 1 and string.byte(s, 1) == 48 then -- a leading '0'
    return nil
  end
  local n = tonumber(s)
  if n > 2147483647 then
    return nil
  end
  return n
end

-- sf_link reads a user's link to one service and returns three values: the
-- pod (nil when there is none), whether the link is persistent (only asked
-- when want_persist, else false), and how many stored values it passed over
-- because they are not pod IDs (0, 1 or 2).
--
-- hash_key is the user's link hash sf:{<ns>:lk:<uid>}, link_key the link
-- key sf:{<ns>:lk:<uid>}<svc>, service the field. The hash field is the
-- persistent link and wins over the link key: the Java executor's compute
-- script writes the hash field alone, and over a temporary link, so where
-- the two disagree the field is the later write and the pod the Java side
-- routed the user to (docs/java.md). A value that is not a pod ID is no link.
local function sf_link(hash_key, link_key, service, want_persist)
  local skipped = 0
  local field = redis.call('HGET', hash_key, service)
  if field then
    local pod = sf_pod(field)
    if pod then
      return pod, true, 0
    end
    skipped = 1
  end
  local value = redis.call('GET', link_key)
  if value then
    local pod = sf_pod(value)
    if pod then
      return pod, want_persist and redis.call('PTTL', link_key) == -1, skipped
    end
    skipped = skipped + 1
  end
  return nil, false, skipped
end

-- sf_reply is a script's reply: the result alone, or {result, skipped} when
-- the script passed over stored values that are not pod IDs, so the caller
-- can count them.
local function sf_reply(result, skipped)
  if skipped > 0 then
    return {result, skipped}
  end
  return result
end

-- sf_write links the user to pod (a canonical decimal string) for persist
-- seconds: '-1' makes a persistent link (the link key without TTL and the
-- hash field), anything else a temporary one (the link key with a TTL, and
-- no hash field).
local function sf_write(hash_key, link_key, service, pod, persist)
  if persist == '-1' then
    redis.call('SET', link_key, pod)
    redis.call('HSET', hash_key, service, pod)
  else
    redis.call('SET', link_key, pod, 'EX', persist)
    redis.call('HDEL', hash_key, service)
  end
end

