-- SetLinkedPodIfAbsent: link a user to a pod unless a link exists; an
-- existing link (persistent or temporary, a Java-computed hash field alone
-- included) wins and is left as it is.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
-- ARGV[2]  pod ID (decimal)
-- ARGV[3]  persistSeconds: "-1" = persistent, else the link's TTL in seconds
--
-- Returns the pod the user is linked to afterwards: the existing one, or
-- ARGV[2]; {that, skipped} when stored values that are not pod IDs were
-- passed over (they count as no link and are replaced).

local current, _, skipped = sf_link(KEYS[1], KEYS[2], ARGV[1], false)
if current then
  return sf_reply(current, skipped)
end
sf_write(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return sf_reply(tonumber(ARGV[2]), skipped)
