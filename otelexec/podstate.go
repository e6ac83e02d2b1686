package otelexec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// MaxHeartbeatSkew is how far ahead of the executor's clock a pod's
// heartbeat may be and still count as live, for pods whose clocks run
// ahead. A heartbeat further in the future comes from a wrong clock or a
// wrong unit (microseconds, say), and never makes a pod live.
const MaxHeartbeatSkew = time.Minute

// heartbeatMillisFrom is the smallest heartbeat read as milliseconds: 10^11
// ms is 1973, 10^11 s the year 5138, so every heartbeat written since 1973
// is read in its unit (Java services write milliseconds, FormatPodState
// seconds).
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
// executor: the load before the first '-' (as the Java compute script
// splits it), the heartbeat after it, both decimal digits, the heartbeat in
// Unix seconds or, from 10^11 up, milliseconds. Anything else is an error:
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
	l, okL := digits(s[:i], math.MaxInt)
	b, okB := digits(s[i+1:], math.MaxInt64)
	if !okL || !okB {
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

// liveness is the window of live heartbeats at one moment, in both units:
// from the current time in whole seconds (or milliseconds) minus
// aliveWithin, included, as in the Java executor, to MaxHeartbeatSkew
// ahead.
type liveness struct {
	oldestS, newestS, oldestMs, newestMs int64
	nowMs                                int64 // for the heartbeat age (telemetry.pods)
}

func livenessAt(now time.Time, aliveWithin time.Duration) liveness {
	s, ms := now.Unix(), now.UnixMilli()
	return liveness{
		oldestS:  s - int64(aliveWithin/time.Second),
		newestS:  s + int64(MaxHeartbeatSkew/time.Second),
		oldestMs: ms - aliveWithin.Milliseconds(),
		newestMs: ms + MaxHeartbeatSkew.Milliseconds(),
		nowMs:    ms,
	}
}

// live reports whether a heartbeat, as stored, is in the window. It has no
// branch (conditional moves, one unsigned comparison), so that a pass over
// heartbeats of mixed units costs no mispredicted one.
func (l liveness) live(beat int64) bool {
	oldest, newest := l.oldestS, l.newestS
	if beat >= heartbeatMillisFrom {
		oldest, newest = l.oldestMs, l.newestMs
	}
	return uint64(beat-oldest) <= uint64(newest-oldest)
}

// chooser keeps ComputeLinkedPod's choice among the states offered to it,
// the one definition of the rule: the live pod with the lowest load, the
// lowest pod ID on ties. It also keeps what the pass saw, for the routing
// signals (telemetry.pods).
type chooser struct {
	window liveness
	pod    int
	load   int64

	linked     int  // the pod the user is linked to, or -1
	linkedLive bool // linked was offered, and is live
	live, dead int
	loadSum    float64 // float: loads of hostile size must not overflow
	loadMax    int64
	oldestMs   int64 // the oldest live heartbeat, in milliseconds
}

func newChooser(now time.Time, aliveWithin time.Duration) chooser {
	return chooser{window: livenessAt(now, aliveWithin), pod: -1, linked: -1}
}

// offer considers one pod's parsed state, its heartbeat as stored
// (neverLive for a state that does not parse).
func (c *chooser) offer(pod int, load, beat int64) {
	live := c.window.live(beat)
	if pod == c.linked {
		c.linkedLive = live
	}
	if !live {
		c.dead++
		return
	}
	ms := beat
	if beat < heartbeatMillisFrom {
		ms *= 1000
	}
	if c.live == 0 || ms < c.oldestMs {
		c.oldestMs = ms
	}
	c.live++
	c.loadSum += float64(load)
	c.loadMax = max(c.loadMax, load)
	if c.pod < 0 || load < c.load || load == c.load && pod < c.pod {
		c.pod, c.load = pod, load
	}
}

// chooseRaw is ComputeLinkedPod's choice over an HGETALL reply, in one pass
// and without allocating; it counts the fields that are not pod IDs
// (skipped) and the states that do not parse (unparsed).
func chooseRaw(c *chooser, raw map[string]string) (chosen, skipped, unparsed int) {
	for field, state := range raw {
		pod, err := parsePodID(field)
		if err != nil {
			skipped++
			continue
		}
		load, beat, ok := parseState(state)
		if !ok {
			unparsed++
			beat = neverLive
		}
		c.offer(pod, int64(load), beat)
	}
	return c.pod, skipped, unparsed
}

// parsedStates is a service's pod state hash parsed once, for the state
// cache: ComputeLinkedPod then costs one pass over integers, GetServiceState
// still returns every state as stored, and the garbage collector sees two
// objects per service, not one per pod.
type parsedStates struct {
	pods     []parsedPod
	raw      string // every state as stored, back to back, in the order of pods
	skipped  int    // fields of the hash that are not pod IDs, left out
	unparsed int    // states that do not parse (in pods, never live)
	bytes    int64  // what pods and raw hold on the heap
}

// parsedPod is one pod's state, its heartbeat as stored (liveness.live
// tells its unit), neverLive for a state that does not parse.
type parsedPod struct {
	beat int64
	load int64
	id   int32
	size uint32 // the state's length in parsedStates.raw
}

// neverLive is the heartbeat of a state that does not parse: below every
// liveness window, whatever aliveWithin is.
const neverLive = math.MinInt64

// parseStates parses an HGETALL reply, with parseStateHash's rule for the
// fields and ParsePodState's for the states, into two arrays, whose bytes
// it counts as the allocator rounded them.
func parseStates(raw map[string]string) (parsedStates, error) {
	total := 0
	for _, state := range raw {
		total += len(state)
	}
	pods := slices.Grow([]parsedPod(nil), len(raw))
	text := slices.Grow([]byte(nil), total)
	var p parsedStates
	for field, state := range raw {
		id, err := parsePodID(field)
		if err != nil {
			p.skipped++
			continue
		}
		if len(state) > math.MaxUint32 {
			return parsedStates{}, fmt.Errorf("%w: a pod state of %d bytes", ErrUnexpectedReply, len(state))
		}
		pod := parsedPod{id: int32(id), size: uint32(len(state)), beat: neverLive}
		if load, beat, ok := parseState(state); ok {
			pod.load, pod.beat = int64(load), beat
		} else {
			p.unparsed++
		}
		pods = append(pods, pod)
		text = append(text, state...)
	}
	if p.skipped > 0 { // do not keep room for what was left out
		pods, text = slices.Clone(pods), slices.Clone(text)
	}
	p.pods = pods
	// text is never written again, so the string may share its memory.
	p.raw = unsafe.String(unsafe.SliceData(text), len(text))
	p.bytes = int64(cap(pods))*int64(unsafe.Sizeof(parsedPod{})) + int64(cap(text))
	return p, nil
}

// choose is ComputeLinkedPod's choice over parsed states: one pass over
// integers.
func (p *parsedStates) choose(c *chooser) int {
	for i := range p.pods {
		pod := &p.pods[i]
		c.offer(int(pod.id), pod.load, pod.beat)
	}
	return c.pod
}

// states returns the states by pod ID, as stored, in a map of the caller's
// own. The strings share the cache's memory (they are never modified).
func (p *parsedStates) states() map[int]string {
	m := make(map[int]string, len(p.pods))
	off := 0
	for _, pod := range p.pods {
		end := off + int(pod.size)
		m[int(pod.id)] = p.raw[off:end]
		off = end
	}
	return m
}
