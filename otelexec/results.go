package otelexec

import (
	"fmt"
	"math"
	"strconv"
)

// Typed parsing of every reply the executor reads, in one place. Each parser
// accepts exactly the shapes the scripts and the Java layout produce and
// wraps ErrUnexpectedReply for anything else, never panicking.

// parsePodReply parses a script's pod ID reply: an integer from -1 up.
func parsePodReply(v any) (int, error) {
	n, ok := v.(int64)
	if !ok || n < -1 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: script returned %T %v, want a pod ID", ErrUnexpectedReply, v, v)
	}
	return int(n), nil
}

// parseBoolReply parses a script's 0/1 reply.
func parseBoolReply(v any) (bool, error) {
	switch n, _ := v.(int64); {
	case v == nil:
	case n == 0:
		return false, nil
	case n == 1:
		return true, nil
	}
	return false, fmt.Errorf("%w: script returned %T %v, want 0 or 1", ErrUnexpectedReply, v, v)
}

// parseTrySetReply parses try_set_linked_pod.lua's {ok, pod} reply.
func parseTrySetReply(v any) (bool, int, error) {
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return false, 0, fmt.Errorf("%w: script returned %T %v, want {ok, pod}", ErrUnexpectedReply, v, v)
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

// parsePodID parses a stored pod ID: the value of a link key or of a field in
// the user's link hash, or a field name of a pod state hash.
func parsePodID(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > math.MaxInt32 || s[0] == '+' {
		return 0, fmt.Errorf("%w: %q is not a pod ID", ErrUnexpectedReply, truncate(s))
	}
	return n, nil
}

// truncate keeps error messages short when Redis holds something unexpected.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
