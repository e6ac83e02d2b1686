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

