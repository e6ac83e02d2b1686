-- TrySetLinkedPod: link a user to a pod unless a persistent link to another
-- pod exists (the hash field, a Java-computed one alone included, or a link
-- key without TTL). A temporary link, or a link to the same pod, is replaced.
--
-- KEYS[1]  sf:{<ns>:lk:<uid>}       hash of the user's persistent links (service -> pod ID)
-- KEYS[2]  sf:{<ns>:lk:<uid>}<svc>  the link (string pod ID; no TTL = persistent)
-- ARGV[1]  service name
-- ARGV[2]  pod ID (decimal)
-- ARGV[3]  persistSeconds: "-1" = persistent, else the link's TTL in seconds
--
-- Returns {1, ARGV[2]} when the link was set, {0, current pod} when a
-- persistent link to another pod won; a third element, skipped, when stored
-- values that are not pod IDs were passed over (they count as no link); and
-- when the link set replaced a (temporary) link to another pod, that pod as
-- a fourth element, skipped then 0 or more, so the caller counts the move.

local pod = tonumber(ARGV[2])
local current, persistent, skipped = sf_link(KEYS[1], KEYS[2], ARGV[1], true)
local reply
if current and persistent and current ~= pod then
  reply = {0, current}
else
  sf_write(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
  reply = {1, pod}
end
if skipped > 0 then
  reply[3] = skipped
end
if reply[1] == 1 and current and current ~= pod then
  reply[3] = skipped
  reply[4] = current
end
return reply
