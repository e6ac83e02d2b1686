-- GetLinkedPodIfPersist: read a link only if it is persistent: the hash
-- field (a Java-computed one alone included), or a link key without TTL.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
--
-- Returns the pod ID, or -1 when there is no link or it is temporary;
-- {that, skipped} when stored values that are not pod IDs were passed over.
-- One script, so the values and the TTL are read atomically.

local current, persistent, skipped = sf_link(KEYS[1], KEYS[2], ARGV[1], true)
if current and persistent then
  return sf_reply(current, skipped)
end
return sf_reply(-1, skipped)
