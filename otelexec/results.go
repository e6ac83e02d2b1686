package otelexec

import (
	"fmt"
	"math"
)

// Typed parsing of every reply the executor reads, in one place. Each parser
// accepts exactly the shapes the scripts and the Java layout produce and
// wraps ErrUnexpectedReply for anything else, never panicking.

// parsePodReply parses a script's pod ID reply: an integer from -1 up.
func parsePodReply(v any) (int, error) {
	n, ok := v.(int64)
	if !ok || n < -1 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: script returned %T, want a pod ID", ErrUnexpectedReply, v)
	}
	return int(n), nil
}

// parseBoolReply parses a script's 0/1 reply: the integer 0 or 1, nothing
// else.
func parseBoolReply(v any) (bool, error) {
	if n, ok := v.(int64); ok && (n == 0 || n == 1) {
		return n == 1, nil
	}
	return false, fmt.Errorf("%w: script returned %T, want the integer 0 or 1", ErrUnexpectedReply, v)
}

// parseTrySetReply parses try_set_linked_pod.lua's {ok, pod} reply.
func parseTrySetReply(v any) (bool, int, error) {
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return false, 0, fmt.Errorf("%w: script returned %T, want {ok, pod}", ErrUnexpectedReply, v)
	}
	set, err := parseBoolReply(pair[0])
	if err != nil {
		return false, 0, err
	}
	pod, err := parsePodReply(pair[1])
	if err != nil {
		return false, 0, err
	}
	if pod < 0 {
		return false, 0, fmt.Errorf("%w: script returned pod %d", ErrUnexpectedReply, pod)
	}
	return set, pod, nil
}

// errNotPodID is the error for a stored value that is not a pod ID. It
// never quotes the value: stored data must not reach spans or logs.
var errNotPodID = fmt.Errorf("%w: a stored value is not a pod ID", ErrUnexpectedReply)

// parsePodID parses a stored pod ID: the value of a link key or of a field in
// the user's link hash, or a field name of a pod state hash. A stored pod ID
// has one form only, canonical decimal: digits, no sign, no leading zero,
// 0 to 2^31-1 ("7", never "07", "+7" or "7.0"), so that one pod has one
// spelling and the Lua scripts and Go agree on every value.
func parsePodID(s string) (int, error) {
	if s == "" || len(s) > 10 || len(s) > 1 && s[0] == '0' {
		return 0, errNotPodID
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errNotPodID
		}
		n = n*10 + int(c-'0')
	}
	if n > math.MaxInt32 {
		return 0, errNotPodID
	}
	return n, nil
}
