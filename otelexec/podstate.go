package otelexec

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// errPodState is wrapped by ParsePodState's errors.
var errPodState = errors.New("otelexec: pod state is not <load>-<heartbeatUnixSeconds>")

// FormatPodState formats the pod state string that ComputeLinkedPod reads:
// "<load>-<heartbeatUnixSeconds>", for example "12-1764000000".
func FormatPodState(load int, heartbeat time.Time) string {
	return strconv.Itoa(load) + "-" + strconv.FormatInt(heartbeat.Unix(), 10)
}

// ParsePodState parses a state written by FormatPodState (or by the Java
// executor in the same form). The load is a decimal integer, possibly
// negative; the heartbeat is a non-negative count of Unix seconds, digits only.
func ParsePodState(s string) (load int, heartbeat time.Time, err error) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i == len(s)-1 {
		return 0, time.Time{}, errPodState
	}
	loadText, beatText := s[:i], s[i+1:]
	load, err = strconv.Atoi(loadText)
	if err != nil || loadText[0] == '+' {
		return 0, time.Time{}, errPodState
	}
	for j := 0; j < len(beatText); j++ {
		if beatText[j] < '0' || beatText[j] > '9' {
			return 0, time.Time{}, errPodState
		}
	}
	secs, err := strconv.ParseInt(beatText, 10, 64)
	if err != nil {
		return 0, time.Time{}, errPodState
	}
	return load, time.Unix(secs, 0), nil
}
