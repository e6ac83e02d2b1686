package report

import (
	"errors"
	"fmt"
	"time"
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
	readRuntime              runtimeReader // nil: this process's runtime

	errs []error // options whose values were invalid
}

// invalid notes an option value the constructor refuses.
func (c *config) invalid(option, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("report: %s: %s", option, fmt.Sprintf(format, args...)))
}

// Option configures a Collector (and the rules of FleetReport).
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// newConfig applies opts over the defaults and returns every invalid option
// value, joined, each error naming its option.
func newConfig(opts []Option) (*config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c, errors.Join(c.errs...)
}

func defaultConfig() *config {
	return &config{
		now:                      time.Now,
		errorRateThreshold:       DefaultErrorRateThreshold,
		tailRatioThreshold:       DefaultTailRatioThreshold,
		minSamples:               DefaultMinSamples,
		warmup:                   DefaultWarmup,
		poolUtilizationThreshold: DefaultPoolUtilizationThreshold,
		batchHintRate:            DefaultBatchHintRate,
		batchHintShare:           DefaultBatchHintShare,
	}
}

// WithClock sets the clock that stamps generated_at and ends the window.
// Tests pin it for golden files. A nil clock is an error.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now == nil {
			c.invalid("WithClock", "clock must not be nil")
			return
		}
		c.now = now
	})
}

// WithErrorRateThreshold sets the share of failed calls (0 < t ≤ 1, default
// 0.01) above which the error_rate rule fires for an operation.
func WithErrorRateThreshold(t float64) Option {
	return optionFunc(func(c *config) {
		if !(t > 0 && t <= 1) {
			c.invalid("WithErrorRateThreshold", "t must be in (0, 1], got %v", t)
			return
		}
		c.errorRateThreshold = t
	})
}

// WithTailRatioThreshold sets the p99/p50 ratio (> 1, default 10) at or above
// which the tail_latency rule fires.
func WithTailRatioThreshold(r float64) Option {
	return optionFunc(func(c *config) {
		if !(r > 1) {
			c.invalid("WithTailRatioThreshold", "r must be > 1, got %v", r)
			return
		}
		c.tailRatioThreshold = r
	})
}

// WithMinSamples sets how many calls an operation needs (default 100) before
// the error_rate, tail_latency and batch_get_linked_pod rules judge it, so a
// handful of calls cannot fire them. It must be > 0.
func WithMinSamples(n uint64) Option {
	return optionFunc(func(c *config) {
		if n == 0 {
			c.invalid("WithMinSamples", "n must be > 0, got 0")
			return
		}
		c.minSamples = n
	})
}

// WithWarmup sets the warm-up period (default 30s, from NewCollector) during
// which script reloads are expected: the executor loads each script on a
// node the first time it runs there. Reloads after it fire script_reloads.
// Zero counts every reload; a negative period is an error.
func WithWarmup(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.invalid("WithWarmup", "d must be ≥ 0, got %v", d)
			return
		}
		c.warmup = d
	})
}

// WithPoolUtilizationThreshold sets the pool utilization (in use / max,
// 0 < u ≤ 1, default 0.9) at or above which waits make the pool_exhaustion
// rule fire.
func WithPoolUtilizationThreshold(u float64) Option {
	return optionFunc(func(c *config) {
		if !(u > 0 && u <= 1) {
			c.invalid("WithPoolUtilizationThreshold", "u must be in (0, 1], got %v", u)
			return
		}
		c.poolUtilizationThreshold = u
	})
}

// WithBatchHint sets when the batch_get_linked_pod rule fires: GetLinkedPod
// at or above rate calls per second (default 100) while BatchGetLinkedPod
// calls are fewer than share (default 0.01) of the GetLinkedPod calls. Both
// must be > 0.
func WithBatchHint(rate, share float64) Option {
	return optionFunc(func(c *config) {
		if !(rate > 0) {
			c.invalid("WithBatchHint", "rate must be > 0, got %v", rate)
		} else {
			c.batchHintRate = rate
		}
		if !(share > 0) {
			c.invalid("WithBatchHint", "share must be > 0, got %v", share)
		} else {
			c.batchHintShare = share
		}
	})
}

// withRuntime replaces the Go runtime's histograms, for tests that need
// fixed ones.
func withRuntime(read runtimeReader) Option {
	return optionFunc(func(c *config) { c.readRuntime = read })
}
