package otelexec

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hashTag is the part of a key Redis Cluster hashes: the text between the
// first '{' and the first '}' after it, when not empty; else the whole key.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

func validTriple(ns, uid, svc string) bool {
	return validateName("namespace", ns) == nil && validateUID("uid", uid) == nil && validateName("serviceName", svc) == nil
}

// FuzzKeys: for valid input, keys never collide across different triples or
// across key kinds, and a user's two link keys share one hash tag.
func FuzzKeys(f *testing.F) {
	f.Add("a", "b:lk:c", "s", "a:lk:b", "c", "s")
	f.Add("a", "b", "s", "a", "b", "t")
	f.Add("ns", "u}x", "svc", "ns", "u", "x}svc")
	f.Add("ns", "state:svc", "x", "ns", "x", "state")
	f.Add("n.s", "ü:*?[", "s-1", "n.s", "ü:*?[", "s_1")
	f.Fuzz(func(t *testing.T, ns1, uid1, svc1, ns2, uid2, svc2 string) {
		if !validTriple(ns1, uid1, svc1) || !validTriple(ns2, uid2, svc2) {
			return
		}
		keys := func(ns, uid, svc string) map[string]string {
			return map[string]string{
				"state":    stateKey(ns, svc),
				"workload": workloadKey(ns, svc),
				"linkHash": linkHashKey(ns, uid),
				"link":     linkKey(ns, uid, svc),
			}
		}
		k1, k2 := keys(ns1, uid1, svc1), keys(ns2, uid2, svc2)
		for _, k := range []map[string]string{k1, k2} {
			if hashTag(k["link"]) != hashTag(k["linkHash"]) {
				t.Fatalf("link keys %q and %q have different hash tags", k["link"], k["linkHash"])
			}
		}
		same := map[string]bool{
			"state":    ns1 == ns2 && svc1 == svc2,
			"workload": ns1 == ns2 && svc1 == svc2,
			"linkHash": ns1 == ns2 && uid1 == uid2,
			"link":     ns1 == ns2 && uid1 == uid2 && svc1 == svc2,
		}
		for kind1, key1 := range k1 {
			for kind2, key2 := range k2 {
				equal := key1 == key2
				if want := kind1 == kind2 && same[kind1]; equal != want {
					t.Fatalf("%s key of (%q,%q,%q) = %q, %s key of (%q,%q,%q) = %q: equal=%v, want %v",
						kind1, ns1, uid1, svc1, key1, kind2, ns2, uid2, svc2, key2, equal, want)
				}
			}
		}
	})
}

// FuzzValidate: whatever the validators accept obeys the input rules.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"", " ", "a", "a{", "}", "a:b", "\x00", "\xff", "ü", "\u2028", strings.Repeat("x", 513)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateName("namespace", s) == nil {
			if len(s) < 1 || len(s) > 512 || strings.ContainsAny(s, ":{}*?[] \t\n") {
				t.Fatalf("name %q accepted", s)
			}
		}
		if validateUID("uid", s) == nil {
			if len(s) < 1 || len(s) > 512 || !utf8.ValidString(s) || strings.ContainsAny(s, "{}\x00\n\r\x7f") || strings.TrimSpace(s) == "" {
				t.Fatalf("uid %q accepted", s)
			}
		}
	})
}

// FuzzParsePodState: the parser never panics, what it accepts has a load
// of 0 or more, and it formats back (in seconds) to a string that parses
// to the same load and the same second.
func FuzzParsePodState(f *testing.F) {
	for _, s := range []string{"3-1700000000", "-1-0", "0-0", "--1", "1-", "-1", "1--1", "+1-2", "1-+2", "99999999999999999999-1", "1-99999999999999999999", "1-2-3", "5-1700000000123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		load, beat, err := ParsePodState(s)
		if err != nil {
			return
		}
		if load < 0 || beat.Unix() < 0 {
			t.Fatalf("%q → (%d, %v)", s, load, beat.Unix())
		}
		load2, beat2, err := ParsePodState(FormatPodState(load, beat))
		if err != nil || load2 != load || beat2.Unix() != min(beat.Unix(), heartbeatMillisFrom-1) {
			t.Fatalf("%q → (%d, %v) → %q → (%d, %v, %v)", s, load, beat.Unix(), FormatPodState(load, beat), load2, beat2.Unix(), err)
		}
	})
}

// FuzzFormatPodState: every load of 0 or more and every heartbeat in
// seconds round-trips; a negative load is written as 0, which the Java
// compute script can read.
func FuzzFormatPodState(f *testing.F) {
	f.Add(0, int64(0))
	f.Add(-5, int64(1_700_000_000))
	f.Add(math.MaxInt, int64(heartbeatMillisFrom-1))
	f.Fuzz(func(t *testing.T, load int, secs int64) {
		if secs < 0 || secs >= heartbeatMillisFrom {
			return
		}
		s := FormatPodState(load, time.Unix(secs, 0))
		l, b, err := ParsePodState(s)
		if err != nil || l != max(load, 0) || b.Unix() != secs {
			t.Fatalf("(%d, %d) → %q → (%d, %d, %v)", load, secs, s, l, b.Unix(), err)
		}
	})
}

// FuzzReplyParsers: the reply parsers never panic and return only values in
// range, whatever shape Redis (or someone else's data) gives them.
func FuzzReplyParsers(f *testing.F) {
	f.Add(uint8(0), int64(3), int64(1), "3")
	f.Add(uint8(1), int64(-2), int64(1<<40), "-1")
	f.Add(uint8(2), int64(1), int64(7), "+7")
	f.Add(uint8(3), int64(0), int64(-1), "007")
	f.Add(uint8(4), int64(2), int64(2), "")
	f.Add(uint8(6), int64(1), int64(2), "")
	f.Fuzz(func(t *testing.T, shape uint8, a, b int64, s string) {
		var v any
		switch shape % 8 {
		case 0:
			v = a
		case 1:
			v = s
		case 2:
			v = []any{a, b}
		case 3:
			v = []any{a, s}
		case 4:
			v = []any{a}
		case 5:
			v = nil
		case 6:
			v = []any{a, b, b}
		case 7:
			v = []any{a, b, s}
		}
		n, isInt := v.(int64)
		pod, err := parsePodReply(v)
		if want := isInt && n >= -1 && n <= math.MaxInt32; (err == nil) != want || err == nil && int64(pod) != n {
			t.Fatalf("parsePodReply(%#v) = %d, %v", v, pod, err)
		}
		// A link reply is a pod ID, or {pod ID, skipped} with skipped 1 or 2.
		pair, isPair := v.([]any)
		skippedOK := isPair && len(pair) == 2 && (b == 1 || b == 2) && shape%8 == 2
		if pod, skipped, err := parseLinkReply(v, nil); err == nil {
			if skipped == 0 && (!isInt || int64(pod) != n) || skipped > 0 && (!skippedOK || int64(pod) != a || int64(skipped) != b) || pod < -1 || pod > math.MaxInt32 {
				t.Fatalf("parseLinkReply(%#v) = %d, %d", v, pod, skipped)
			}
		}
		if removed, skipped, err := parseRemoveReply(v, nil); err == nil {
			if skipped == 0 && (!isInt || n != 0 && n != 1 || removed != (n == 1)) || skipped > 0 && (!skippedOK || a != 0 && a != 1 || removed != (a == 1)) {
				t.Fatalf("parseRemoveReply(%#v) = %v, %d", v, removed, skipped)
			}
		}
		if ok, pod, skipped, _, err := parseTrySetReply(v, nil); err == nil && (pod < 0 || pod > math.MaxInt32 || skipped < 0 || skipped > 2 || ok != (a == 1)) {
			t.Fatalf("parseTrySetReply(%#v) = %v, %d, %d", v, ok, pod, skipped)
		}
		set, err := parseBoolReply(v)
		if want := isInt && (n == 0 || n == 1); (err == nil) != want || err == nil && set != (n == 1) {
			t.Fatalf("parseBoolReply(%#v) = %v, %v", v, set, err)
		}
		// A stored pod ID is accepted exactly when it is in canonical form.
		if pod, err := parsePodID(s); (err == nil) != (canonicalPodID(s) >= 0) || err == nil && strconv.Itoa(pod) != s {
			t.Fatalf("parsePodID(%q) = %d, %v", s, pod, err)
		}
		// A state field is kept exactly when it is a stored pod ID, and
		// counted as skipped otherwise.
		if states, skipped := parseStateHash(map[string]string{s: "x"}); len(states)+skipped != 1 || (len(states) == 1) != (canonicalPodID(s) >= 0) {
			t.Fatalf("parseStateHash(%q) = %v, %d skipped", s, states, skipped)
		}
	})
}

// canonicalPodID is the definition of a stored pod ID written out the slow
// way: decimal digits, no sign, no leading zero, 0 to 2^31-1. It returns -1
// for anything else.
func canonicalPodID(s string) int64 {
	if s == "" || len(s) > 10 || len(s) > 1 && s[0] == '0' {
		return -1
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt32 {
		return -1
	}
	return n
}
