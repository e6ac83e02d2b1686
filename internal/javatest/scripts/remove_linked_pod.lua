-- Java removeLinkedPod: deletes the link and then expires the deleted key,
-- so whatever persistSeconds says the link is gone at once.
-- KEYS[1] link hash, KEYS[2] link key; ARGV[1] service, ARGV[2]
-- persistSeconds. Returns 1 when the link key existed, else 0.
redis.call('HDEL', KEYS[1], ARGV[1])
local existed = redis.call('DEL', KEYS[2])
if ARGV[2] ~= '-1' then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return existed
