package otelexec

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Input limits (docs/design.md, "Input rules").
const (
	maxNameLen  = 512  // namespace, service name, uid
	maxStateLen = 4096 // pod and workload state strings
	maxPodID    = math.MaxInt32
	maxPersist  = math.MaxInt32
)

// PersistForever as persistSeconds makes a link persistent.
const PersistForever = -1

// validateName checks a namespace or service name: 1–512 bytes of
// [A-Za-z0-9._-]. The narrow alphabet keeps ':' and braces out, which is what
// makes the key layout unambiguous, and glob characters out, so that a pattern
// scan over one namespace cannot match another.
func validateName(field, s string) error {
	if err := validateLen(field, s, maxNameLen); err != nil {
		return err
	}
	if strings.TrimLeft(s, " \t") == "" {
		return &ArgumentError{Field: field, Reason: "blank"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return &ArgumentError{Field: field, Reason: "contains " + describeByte(c) + " at byte " + strconv.Itoa(i) + "; allowed are A-Z a-z 0-9 . _ -"}
	}
	return nil
}

// validateUID checks a uid: 1–512 bytes of valid UTF-8, not blank, without
// braces (they would end the hash tag) or control characters. ':', '*', '?'
// and '[' are allowed and stored exactly.
func validateUID(field, s string) error {
	if err := validateLen(field, s, maxNameLen); err != nil {
		return err
	}
	blank := true
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return &ArgumentError{Field: field, Reason: "not valid UTF-8 at byte " + strconv.Itoa(i)}
		case r == '{' || r == '}':
			return &ArgumentError{Field: field, Reason: "contains '" + string(r) + "'"}
		case unicode.IsControl(r):
			return &ArgumentError{Field: field, Reason: "contains control character " + strconv.QuoteRuneToASCII(r) + " at byte " + strconv.Itoa(i)}
		case !unicode.IsSpace(r):
			blank = false
		}
	}
	if blank {
		return &ArgumentError{Field: field, Reason: "blank"}
	}
	return nil
}

// validRuneAt tells a genuine U+FFFD in s from an invalid byte, both of which
// range decodes as utf8.RuneError.
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

func validatePodID(field string, id int) error {
	if id < 0 || id > maxPodID {
		return &ArgumentError{Field: field, Reason: "out of range 0..2147483647 (" + strconv.Itoa(id) + ")"}
	}
	return nil
}

func validatePersist(field string, seconds int) error {
	if seconds == PersistForever || seconds >= 1 && seconds <= maxPersist {
		return nil
	}
	return &ArgumentError{Field: field, Reason: "must be -1 (persistent) or 1..2147483647 seconds (" + strconv.Itoa(seconds) + ")"}
}

func validateState(field, s string) error { return validateLen(field, s, maxStateLen) }

// validateLen checks that s has 1 to limit bytes.
func validateLen(field, s string, limit int) error {
	if s == "" {
		return &ArgumentError{Field: field, Reason: "empty"}
	}
	if len(s) > limit {
		return &ArgumentError{Field: field, Reason: "longer than " + strconv.Itoa(limit) + " bytes (" + strconv.Itoa(len(s)) + ")"}
	}
	return nil
}

// validateLink checks the arguments every link operation shares.
func validateLink(namespace, uid, serviceName string) error {
	return cmp.Or(validateName("namespace", namespace), validateUID("uid", uid), validateName("serviceName", serviceName))
}

// validateSet checks the arguments of the link-setting operations.
func validateSet(namespace, uid, serviceName string, podID, persistSeconds int) error {
	return cmp.Or(validateLink(namespace, uid, serviceName), validatePodID("podID", podID), validatePersist("persistSeconds", persistSeconds))
}

func validateServiceArgs(namespace, serviceName string) error {
	return cmp.Or(validateName("namespace", namespace), validateName("serviceName", serviceName))
}

// validateAlive checks ComputeLinkedPod's aliveWithin: positive and, with
// a state cache, longer than its TTL.
func (e *Executor) validateAlive(aliveWithin time.Duration) error {
	switch {
	case aliveWithin <= 0:
		return &ArgumentError{Field: "aliveWithin", Reason: "must be positive"}
	case e.states != nil && aliveWithin <= e.states.ttl:
		return &ArgumentError{Field: "aliveWithin", Reason: "must be longer than the WithStateCache TTL (" +
			e.states.ttl.String() + "): a cached heartbeat is up to that old when it is read, so pods would look dead"}
	}
	return nil
}

// describeByte names a rejected byte without echoing arbitrary input.
func describeByte(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	if c == ' ' {
		return "a space"
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
