package report

import (
	"testing"
	"time"
)

func TestOptionsOutOfRangeKeepDefaults(t *testing.T) {
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
}
