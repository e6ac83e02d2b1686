package report

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
)

// Defaults of the suggestion rules, documented in docs/report.md.
const (
	DefaultErrorRateThreshold       = 0.01 // 1% of calls of one operation failing
	DefaultTailRatioThreshold       = 10.0 // p99 ten times p50
	DefaultMinSamples               = 100  // calls before rate and latency rules judge an operation
	DefaultWarmup                   = 30 * time.Second
	DefaultPoolUtilizationThreshold = 0.9  // in use / max
	DefaultBatchHintRate            = 100  // GetLinkedPod calls per second
	DefaultBatchHintShare           = 0.01 // BatchGetLinkedPod calls per GetLinkedPod call
)

// Histogram aggregation the collector asks for. At scale 5 a bucket spans
// 2^(1/32), 2.2%, so log-space interpolation lands within about 1% of the
// exact quantile; 1024 buckets keep scale 5 over 32 octaves (9.6 decades,
// 1 µs to over an hour) before the SDK has to coarsen it.
const (
	histogramMaxSize  = 1024
	histogramMaxScale = 20
)

// config holds the collector's settings. newConfig fills in the defaults.
type config struct {
	now                      func() time.Time
	errorRateThreshold       float64
	tailRatioThreshold       float64
	minSamples               uint64
	warmup                   time.Duration
	poolUtilizationThreshold float64
	batchHintRate            float64
	batchHintShare           float64

	rejected []error // options whose values were out of range
}

// reject notes an option value out of range. The value is not applied;
// newConfig hands the error to the OpenTelemetry error handler, as the SDK
// does with its own bad settings, since NewCollector returns no error.
func (c *config) reject(option string, value any, want string) {
	c.rejected = append(c.rejected, fmt.Errorf("report: %s(%v) ignored: want %s", option, value, want))
}

// Option configures a Collector.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) *config {
	c := &config{
		now:                      time.Now,
		errorRateThreshold:       DefaultErrorRateThreshold,
		tailRatioThreshold:       DefaultTailRatioThreshold,
		minSamples:               DefaultMinSamples,
		warmup:                   DefaultWarmup,
		poolUtilizationThreshold: DefaultPoolUtilizationThreshold,
		batchHintRate:            DefaultBatchHintRate,
		batchHintShare:           DefaultBatchHintShare,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	for _, err := range c.rejected {
		otel.Handle(err)
	}
	return c
}

// WithClock sets the clock that stamps generated_at and ends the window.
// Tests pin it for golden files. A nil clock is ignored and reported to the
// OpenTelemetry error handler.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now == nil {
			c.reject("WithClock", "nil", "a clock")
			return
		}
		c.now = now
	})
}

// WithErrorRateThreshold sets the share of failed calls (0 < t ≤ 1, default
// 0.01) above which the error_rate rule fires for an operation. Other values
// are ignored and reported to the OpenTelemetry error handler.
func WithErrorRateThreshold(t float64) Option {
	return optionFunc(func(c *config) {
		if !(t > 0 && t <= 1) {
			c.reject("WithErrorRateThreshold", t, "0 < t ≤ 1")
			return
		}
		c.errorRateThreshold = t
	})
}

// WithTailRatioThreshold sets the p99/p50 ratio (> 1, default 10) at or above
// which the tail_latency rule fires. Other values are ignored and reported
// to the OpenTelemetry error handler.
func WithTailRatioThreshold(r float64) Option {
	return optionFunc(func(c *config) {
		if !(r > 1) {
			c.reject("WithTailRatioThreshold", r, "r > 1")
			return
		}
		c.tailRatioThreshold = r
	})
}

// WithMinSamples sets how many calls an operation needs (default 100) before
// the error_rate, tail_latency and batch_get_linked_pod rules judge it, so a
// handful of calls cannot fire them. Zero is ignored and reported to the
// OpenTelemetry error handler.
func WithMinSamples(n uint64) Option {
	return optionFunc(func(c *config) {
		if !(n > 0) {
			c.reject("WithMinSamples", n, "n > 0")
			return
		}
		c.minSamples = n
	})
}

// WithWarmup sets the warm-up period (default 30s, from NewCollector) during
// which script reloads are expected: the executor loads each script on a
// node the first time it runs there. Reloads after it fire script_reloads.
// Zero counts every reload; negative values are ignored and reported
// to the OpenTelemetry error handler.
func WithWarmup(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if !(d >= 0) {
			c.reject("WithWarmup", d, "d ≥ 0")
			return
		}
		c.warmup = d
	})
}

// WithPoolUtilizationThreshold sets the pool utilization (in use / max,
// 0 < u ≤ 1, default 0.9) at or above which waits make the pool_exhaustion
// rule fire. Other values are ignored and reported to the OpenTelemetry
// error handler.
func WithPoolUtilizationThreshold(u float64) Option {
	return optionFunc(func(c *config) {
		if !(u > 0 && u <= 1) {
			c.reject("WithPoolUtilizationThreshold", u, "0 < u ≤ 1")
			return
		}
		c.poolUtilizationThreshold = u
	})
}

// WithBatchHint sets when the batch_get_linked_pod rule fires: GetLinkedPod
// at or above rate calls per second (default 100) while BatchGetLinkedPod
// calls are fewer than share (default 0.01) of the GetLinkedPod calls.
// Non-positive values are ignored and reported to the OpenTelemetry error
// handler.
func WithBatchHint(rate, share float64) Option {
	return optionFunc(func(c *config) {
		if !(rate > 0) {
			c.reject("WithBatchHint", rate, "rate > 0")
		} else {
			c.batchHintRate = rate
		}
		if !(share > 0) {
			c.reject("WithBatchHint", share, "share > 0")
		} else {
			c.batchHintShare = share
		}
	})
}
