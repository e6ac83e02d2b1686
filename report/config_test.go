package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
)

func TestOptionsOutOfRangeKeepDefaults(t *testing.T) {
	var reported []string
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { reported = append(reported, err.Error()) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	def := newConfig(nil)
	got := newConfig([]Option{
		nil,
		WithClock(nil),
		WithErrorRateThreshold(0), WithErrorRateThreshold(-1), WithErrorRateThreshold(1.5),
		WithTailRatioThreshold(1), WithTailRatioThreshold(-3),
		WithMinSamples(0),
		WithWarmup(-time.Second),
		WithPoolUtilizationThreshold(0), WithPoolUtilizationThreshold(1.01),
		WithBatchHint(0, -1),
	})
	if got.now == nil || got.errorRateThreshold != def.errorRateThreshold || got.tailRatioThreshold != def.tailRatioThreshold ||
		got.minSamples != def.minSamples || got.warmup != def.warmup || got.poolUtilizationThreshold != def.poolUtilizationThreshold ||
		got.batchHintRate != def.batchHintRate || got.batchHintShare != def.batchHintShare {
		t.Fatalf("out-of-range options changed the config: %+v, defaults %+v", got, def)
	}
	// Every rejected value is reported once, naming its option.
	want := []string{
		"report: WithClock(nil) ignored: want a clock",
		"report: WithErrorRateThreshold(0) ignored: want 0 < t ≤ 1",
		"report: WithErrorRateThreshold(-1) ignored: want 0 < t ≤ 1",
		"report: WithErrorRateThreshold(1.5) ignored: want 0 < t ≤ 1",
		"report: WithTailRatioThreshold(1) ignored: want r > 1",
		"report: WithTailRatioThreshold(-3) ignored: want r > 1",
		"report: WithMinSamples(0) ignored: want n > 0",
		"report: WithWarmup(-1s) ignored: want d ≥ 0",
		"report: WithPoolUtilizationThreshold(0) ignored: want 0 < u ≤ 1",
		"report: WithPoolUtilizationThreshold(1.01) ignored: want 0 < u ≤ 1",
		"report: WithBatchHint(0) ignored: want rate > 0",
		"report: WithBatchHint(-1) ignored: want share > 0",
	}
	if !slices.Equal(reported, want) {
		t.Fatalf("reported:\n%s\nwant:\n%s", strings.Join(reported, "\n"), strings.Join(want, "\n"))
	}
}

func TestOptionsApply(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newConfig([]Option{
		WithClock(func() time.Time { return fixed }),
		WithErrorRateThreshold(0.05), WithTailRatioThreshold(4), WithMinSamples(7), WithWarmup(0),
		WithPoolUtilizationThreshold(1), WithBatchHint(50, 0.2),
	})
	if !c.now().Equal(fixed) || c.errorRateThreshold != 0.05 || c.tailRatioThreshold != 4 || c.minSamples != 7 ||
		c.warmup != 0 || c.poolUtilizationThreshold != 1 || c.batchHintRate != 50 || c.batchHintShare != 0.2 {
		t.Fatalf("options not applied: %+v", c)
	}
	if len(c.rejected) != 0 {
		t.Fatalf("valid options rejected: %v", c.rejected)
	}
}
