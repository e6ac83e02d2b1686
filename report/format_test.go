package report

import "testing"

func TestFormatSeconds(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0s"}, {-1, "0s"}, {1.234e-6, "1.23µs"}, {12.34e-6, "12.3µs"}, {312e-6, "312µs"},
		{999.4e-6, "999µs"}, {999.6e-6, "1.00ms"}, {0.00123, "1.23ms"}, {0.0456, "45.6ms"},
		{0.9996, "1.00s"}, {2.5, "2.50s"}, {125, "125s"},
	} {
		if got := formatSeconds(c.in); got != c.want {
			t.Errorf("formatSeconds(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatPercent(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0%"}, {0.0001, "0.01%"}, {0.0099, "0.99%"}, {0.024, "2.4%"}, {0.5, "50%"},
		{0.9988, "99.9%"}, {0.99999, "99.999%"}, {1, "100%"},
	} {
		if got := formatPercent(c.in); got != c.want {
			t.Errorf("formatPercent(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDecadeLabel(t *testing.T) {
	for e, want := range map[int]string{-7: "100ns", -6: "1µs", -5: "10µs", -4: "100µs", -3: "1ms", -1: "100ms", 0: "1s", 1: "10s", -10: "1e-10s"} {
		if got := decadeLabel(e); got != want {
			t.Errorf("decadeLabel(%d) = %q, want %q", e, got, want)
		}
	}
}
