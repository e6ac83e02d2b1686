package report

import (
	"math"
	"strconv"
	"strings"
)

// formatSeconds renders a duration in seconds with three significant digits
// in the unit that fits: 312µs, 1.20ms, 2.50s. Zero renders as 0s.
func formatSeconds(s float64) string {
	switch {
	case s <= 0:
		return "0s"
	case s < 999.5e-6:
		return sig3(s*1e6) + "µs"
	case s < 0.9995:
		return sig3(s*1e3) + "ms"
	}
	return sig3(s) + "s"
}

// sig3 formats v ≥ 0 with three significant digits, no exponent.
func sig3(v float64) string {
	switch {
	case v >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 0.9995:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// formatEvidence renders one evidence value in the unit its key names:
// durations in µs, ms or s, shares in percent, rates per second, counts
// whole.
func formatEvidence(k string, v float64) string {
	name := k
	if i := strings.IndexByte(k, '{'); i >= 0 {
		name = k[:i]
	}
	switch {
	case strings.HasSuffix(name, "seconds") && !strings.HasSuffix(name, "per_second"), strings.Contains(name, "wait_time"):
		return formatSeconds(v)
	case strings.HasSuffix(name, "share") || strings.HasSuffix(name, "hit") || strings.HasSuffix(name, "rate") || strings.HasSuffix(name, "utilization"):
		return formatPercent(v)
	case strings.HasSuffix(name, "per_second") || strings.HasSuffix(name, "per_sec"):
		return sig3(v) + "/s"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return sig3(v)
}

// evidenceList is a suggestion's evidence as "key value" lines, sorted.
func evidenceList(m map[string]float64) []string {
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = k + " " + formatEvidence(k, m[k])
	}
	return keys
}
