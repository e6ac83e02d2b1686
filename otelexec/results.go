package otelexec

import (
	"fmt"
	"math"
)

// Every reply the executor reads is parsed here: exactly the shapes the
// scripts and the Java layout produce, ErrUnexpectedReply for anything else.
// A link script replies with its result alone, or with {result, skipped}
// when it passed over 1 or 2 stored values that are not pod IDs (sf_reply
// in internal/luascript/prelude.lua); TrySetLinkedPod's {ok, pod} carries
// skipped as a third element.

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

// parseSkipped parses the skipped element of a reply: 1 or 2.
func parseSkipped(v any) (int, error) {
	if n, ok := v.(int64); ok && (n == 1 || n == 2) {
		return int(n), nil
	}
	return 0, fmt.Errorf("%w: script returned %T as the count of skipped values, want 1 or 2", ErrUnexpectedReply, v)
}

// The reply parsers of the link operations take the script's reply and
// error, and pass the error on: a pod is -1 on any error.

// parseLinkReply parses a pod reply that may carry a skipped count.
func parseLinkReply(v any, err error) (pod, skipped int, _ error) {
	return splitReply(v, err, parsePodReply, -1)
}

// parseRemoveReply parses a 0/1 reply that may carry a skipped count.
func parseRemoveReply(v any, err error) (removed bool, skipped int, _ error) {
	return splitReply(v, err, parseBoolReply, false)
}

// splitReply parses with parse a scalar reply, or the result of a
// {result, skipped} reply; it returns fail on any error.
func splitReply[T any](v any, err error, parse func(any) (T, error), fail T) (r T, skipped int, _ error) {
	if pair, ok := v.([]any); ok && err == nil {
		if len(pair) != 2 {
			return fail, 0, fmt.Errorf("%w: script returned %d values, want {result, skipped}", ErrUnexpectedReply, len(pair))
		}
		v = pair[0]
		skipped, err = parseSkipped(pair[1])
	}
	if err == nil {
		r, err = parse(v)
	}
	if err != nil {
		return fail, 0, err
	}
	return r, skipped, nil
}

// parseTrySetReply parses try_set_linked_pod.lua's {ok, pod}, {ok, pod,
// skipped} or, when it replaced a link to another pod, {ok, pod, skipped
// or 0, that pod}.
func parseTrySetReply(v any, err error) (set bool, pod, skipped int, moved bool, _ error) {
	fail := func(err error) (bool, int, int, bool, error) { return false, -1, 0, false, err }
	list, ok := v.([]any)
	switch {
	case err != nil:
		return fail(err)
	case !ok || len(list) < 2 || len(list) > 4:
		return fail(fmt.Errorf("%w: script returned %T, want {ok, pod}", ErrUnexpectedReply, v))
	case len(list) == 4:
		if from, err := parsePodReply(list[3]); err != nil || from < 0 {
			return fail(fmt.Errorf("%w: script returned a pod moved from that is not a pod ID", ErrUnexpectedReply))
		}
		moved = true
	}
	if len(list) >= 3 && !(moved && list[2] == int64(0)) {
		if skipped, err = parseSkipped(list[2]); err != nil {
			return fail(err)
		}
	}
	if set, err = parseBoolReply(list[0]); err != nil {
		return fail(err)
	}
	if pod, err = parsePodReply(list[1]); err != nil {
		return fail(err)
	}
	if pod < 0 || moved && !set {
		return fail(fmt.Errorf("%w: script returned pod %d", ErrUnexpectedReply, pod))
	}
	return set, pod, skipped, moved, nil
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
	n, ok := digits(s, math.MaxInt32)
	if !ok || len(s) > 1 && s[0] == '0' {
		return 0, errNotPodID
	}
	return int(n), nil
}
