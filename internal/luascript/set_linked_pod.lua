-- SetLinkedPod: link a user to a pod of one service, whatever was there.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID)
-- ARGV[1]  service name
-- ARGV[2]  pod ID (decimal)
-- ARGV[3]  persistSeconds: "-1" = persistent, else the link's TTL in seconds
--
-- Returns the previous pod ID as sf_link reads it (the hash field first), or
-- -1 when there was no link; {that, skipped} when stored values that are not
-- pod IDs were passed over (they are replaced).
-- Both keys share one hash tag, so this runs on one Redis Cluster slot.

local previous, _, skipped = sf_link(KEYS[1], KEYS[2], ARGV[1], false)
sf_write(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return sf_reply(previous or -1, skipped)
