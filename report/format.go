package report

import "strconv"

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
