package report

import (
	"strings"
	"testing"
	"time"
)

func TestInvalidOptionsAreConstructorErrors(t *testing.T) {
	for _, c := range []struct {
		opt  Option
		want string
	}{
		{WithClock(nil), "report: WithClock: clock must not be nil"},
		{WithErrorRateThreshold(0), "report: WithErrorRateThreshold: t must be in (0, 1], got 0"},
		{WithErrorRateThreshold(-1), "report: WithErrorRateThreshold: t must be in (0, 1], got -1"},
		{WithErrorRateThreshold(1.5), "report: WithErrorRateThreshold: t must be in (0, 1], got 1.5"},
		{WithTailRatioThreshold(1), "report: WithTailRatioThreshold: r must be > 1, got 1"},
		{WithTailRatioThreshold(-3), "report: WithTailRatioThreshold: r must be > 1, got -3"},
		{WithMinSamples(0), "report: WithMinSamples: n must be > 0, got 0"},
		{WithWarmup(-time.Second), "report: WithWarmup: d must be ≥ 0, got -1s"},
		{WithPoolUtilizationThreshold(0), "report: WithPoolUtilizationThreshold: u must be in (0, 1], got 0"},
		{WithPoolUtilizationThreshold(1.01), "report: WithPoolUtilizationThreshold: u must be in (0, 1], got 1.01"},
		{WithBatchHint(0, 0.1), "report: WithBatchHint: rate must be > 0, got 0"},
		{WithBatchHint(10, -1), "report: WithBatchHint: share must be > 0, got -1"},
	} {
		c2, err := NewCollector(nil, c.opt)
		if err == nil || err.Error() != c.want || c2 != nil {
			t.Errorf("got (%v, %v), want (nil, %q)", c2, err, c.want)
		}
	}
	// Every invalid value is named, not only the first.
	_, err := NewCollector(WithMinSamples(0), WithWarmup(-1))
	if err == nil || !strings.Contains(err.Error(), "WithMinSamples") || !strings.Contains(err.Error(), "WithWarmup") {
		t.Fatalf("two invalid options: %v", err)
	}
}

func TestOptionsApply(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := newConfig([]Option{
		nil,
		WithClock(func() time.Time { return fixed }),
		WithErrorRateThreshold(0.05), WithTailRatioThreshold(4), WithMinSamples(7), WithWarmup(0),
		WithPoolUtilizationThreshold(1), WithBatchHint(50, 0.2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.now().Equal(fixed) || c.errorRateThreshold != 0.05 || c.tailRatioThreshold != 4 || c.minSamples != 7 ||
		c.warmup != 0 || c.poolUtilizationThreshold != 1 || c.batchHintRate != 50 || c.batchHintShare != 0.2 {
		t.Fatalf("options not applied: %+v", c)
	}
}
