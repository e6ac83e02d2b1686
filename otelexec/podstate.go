package otelexec

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// A pod state is "<load>-<heartbeat>": the load a non-negative decimal
// integer, the heartbeat a Unix time in seconds or in milliseconds. The
// state is split at its first '-', as the Java executor's compute script
// splits it, so "-3-1764000000" has an empty load, not -3. The heartbeat's
// unit is told by its magnitude: from heartbeatMillisFrom up it counts
// milliseconds (Java services of the same family write those), below it
// seconds (FormatPodState writes those).

// MaxHeartbeatSkew is how far ahead of the executor's clock a pod's
// heartbeat may be and still count as live, for pods whose clocks run
// ahead. A heartbeat further in the future comes from a wrong clock or a
// wrong unit (microseconds, say), and never makes a pod live.
const MaxHeartbeatSkew = time.Minute

// heartbeatMillisFrom is the smallest heartbeat read as milliseconds:
// 10^11 ms is 1973-03-03, and 10^11 s the year 5138, so every heartbeat
// written since 1973 in either unit is read in the unit it was written in.
const heartbeatMillisFrom = 100_000_000_000

// errPodState is wrapped by ParsePodState's errors.
var errPodState = errors.New("otelexec: pod state is not <load>-<heartbeat>, with a load of 0 or more and a heartbeat in Unix seconds or milliseconds")

// FormatPodState formats the pod state string that ComputeLinkedPod reads:
// "<load>-<heartbeatUnixSeconds>", for example "12-1764000000". It never
// writes a state the Java executor's compute script fails on: that script
// fails the whole call, for every user of the service, on a negative load,
// so a negative load is written as 0; a heartbeat before 1970 is written
// as 0 and one after the year 5138 as the last second before it.
func FormatPodState(load int, heartbeat time.Time) string {
	secs := min(max(heartbeat.Unix(), 0), heartbeatMillisFrom-1)
	return strconv.Itoa(max(load, 0)) + "-" + strconv.FormatInt(secs, 10)
}

// ParsePodState parses a pod state written by FormatPodState or by the Java
// executor: the load before the first '-', decimal digits; the heartbeat
// after it, decimal digits, in Unix seconds or, from 10^11 up, Unix
// milliseconds. A negative or non-numeric load or heartbeat is an error:
// ComputeLinkedPod passes over such a state (and counts it) where the Java
// compute script fails.
func ParsePodState(s string) (load int, heartbeat time.Time, err error) {
	load, beat, ok := parseState(s)
	if !ok {
		return 0, time.Time{}, errPodState
	}
	if beat >= heartbeatMillisFrom {
		return load, time.UnixMilli(beat), nil
	}
	return load, time.Unix(beat, 0), nil
}

// parseState splits a pod state into its load and its heartbeat as stored
// (seconds or milliseconds). It allocates nothing.
func parseState(s string) (load int, beat int64, ok bool) {
	i := strings.IndexByte(s, '-')
	if i <= 0 {
		return 0, 0, false
	}
	l, ok := digits(s[:i], math.MaxInt)
	if !ok {
		return 0, 0, false
	}
	b, ok := digits(s[i+1:], math.MaxInt64)
	if !ok {
		return 0, 0, false
	}
	return int(l), b, true
}

// digits parses a non-empty run of decimal digits no greater than limit.
func digits(s string, limit int64) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// liveness is the window of heartbeats that count as live at one moment,
// in both units. As in the Java executor, the oldest live heartbeat is the
// current time in whole seconds (or milliseconds) minus aliveWithin, and a
// heartbeat exactly at it is live; unlike there, a heartbeat more than
// MaxHeartbeatSkew ahead is not.
type liveness struct {
	oldestS, newestS, oldestMs, newestMs int64
}

func livenessAt(now time.Time, aliveWithin time.Duration) liveness {
	s, ms := now.Unix(), now.UnixMilli()
	return liveness{
		oldestS:  s - int64(aliveWithin/time.Second),
		newestS:  s + int64(MaxHeartbeatSkew/time.Second),
		oldestMs: ms - aliveWithin.Milliseconds(),
		newestMs: ms + MaxHeartbeatSkew.Milliseconds(),
	}
}

// live reports whether a heartbeat, as stored, is in the window.
func (l liveness) live(beat int64) bool {
	if beat >= heartbeatMillisFrom {
		return beat >= l.oldestMs && beat <= l.newestMs
	}
	return beat >= l.oldestS && beat <= l.newestS
}
