package report

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults of the suggestion rules, documented in docs/report.md.
const (
	DefaultErrorRateThreshold       = 0.01 // 1% of calls of one operation failing
	DefaultTailRatioThreshold       = 10.0 // p99 ten times p50
	DefaultTailFloor                = 10 * time.Millisecond
	DefaultRoundTripThreshold       = time.Millisecond // median Redis command
	DefaultMinSamples               = 200              // calls before rate and latency rules judge an operation: a p99 on at least 2
	DefaultWarmup                   = 5 * time.Second
	DefaultPoolUtilizationThreshold = 0.9  // in use / max
	DefaultBatchHintRate            = 100  // GetLinkedPod calls per second
	DefaultBatchHintShare           = 0.01 // BatchGetLinkedPod calls per GetLinkedPod call

	// DefaultHistoryInterval and DefaultHistorySpan: a snapshot every 5s,
	// kept for 10 minutes, for ?window= and the page's charts.
	DefaultHistoryInterval = 5 * time.Second
	DefaultHistorySpan     = 10 * time.Minute

	// JaegerTraceURLTemplate opens a trace in Jaeger's UI on this host:
	// WithTraceURLTemplate's value when traces are exported to it.
	JaegerTraceURLTemplate = "http://localhost:16686/trace/{trace_id}"
)

// HistoryMaxBytes bounds the memory of the kept snapshots: when a new one
// would take the history past it, the oldest are dropped, and windows
// reach back less far (docs/report.md, "Moving windows").
const HistoryMaxBytes = 16 << 20

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
	now             func() time.Time
	rules           Thresholds // the rules' settings but the warm-up's
	warmup          time.Duration
	readRuntime     runtimeReader // nil: this process's runtime
	historyInterval time.Duration
	historySpan     time.Duration // 0: no history
	traceURL        string        // with {trace_id} and {span_id}
	embeddedRedis   string        // the in-process server standing in for Redis
	manualHistory   bool          // tests take the history's snapshots themselves

	errs []error // options whose values were invalid
}

// checked is an option that sets its value when ok, and is otherwise an
// error naming the option: problem, formatted with args.
func checked(option string, ok bool, set func(*config), problem string, args ...any) Option {
	return func(c *config) {
		if !ok {
			c.invalid(option, problem, args...)
			return
		}
		set(c)
	}
}

// invalid notes an option value the constructor refuses.
func (c *config) invalid(option, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("report: %s: %s", option, fmt.Sprintf(format, args...)))
}

// Option configures a Collector (and the rules of FleetReport).
type Option func(*config)

// newConfig applies opts over the defaults and returns every invalid option
// value, joined, each error naming its option.
func newConfig(opts []Option) (*config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c, errors.Join(c.errs...)
}

func defaultConfig() *config {
	return &config{
		now: time.Now,
		rules: Thresholds{
			MinSamples: DefaultMinSamples, ErrorRate: DefaultErrorRateThreshold, TailRatio: DefaultTailRatioThreshold,
			TailFloor: DefaultTailFloor.Seconds(), RoundTrip: DefaultRoundTripThreshold.Seconds(),
			PoolUtilization: DefaultPoolUtilizationThreshold, BatchHintRate: DefaultBatchHintRate, BatchHintShare: DefaultBatchHintShare,
		},
		warmup:          DefaultWarmup,
		historyInterval: DefaultHistoryInterval,
		historySpan:     DefaultHistorySpan,
	}
}

// WithClock sets the clock that stamps generated_at and ends the window.
// Tests pin it for golden files. A nil clock is an error.
func WithClock(now func() time.Time) Option {
	return checked("WithClock", now != nil, func(c *config) { c.now = now }, "clock must not be nil")
}

// WithErrorRateThreshold sets the share of failed calls (0 < t ≤ 1, default
// 0.01) above which the error_rate rule fires for an operation.
func WithErrorRateThreshold(t float64) Option {
	return checked("WithErrorRateThreshold", t > 0 && t <= 1, func(c *config) { c.rules.ErrorRate = t }, "t must be in (0, 1], got %v", t)
}

// WithTailRatioThreshold sets the p99/p50 ratio (> 1, default 10) at or above
// which the tail_latency rule fires.
func WithTailRatioThreshold(r float64) Option {
	return checked("WithTailRatioThreshold", r > 1, func(c *config) { c.rules.TailRatio = r }, "r must be > 1, got %v", r)
}

// WithTailFloor sets how far p99 must lie above p50 (> 0, default 10ms)
// for the tail_latency rule to fire, whatever their ratio.
func WithTailFloor(d time.Duration) Option {
	return checked("WithTailFloor", d > 0, func(c *config) { c.rules.TailFloor = d.Seconds() }, "d must be > 0, got %v", d)
}

// WithRoundTripThreshold sets the median Redis command latency (> 0,
// default 1ms) at or above which the slow_round_trip rule fires.
func WithRoundTripThreshold(d time.Duration) Option {
	return checked("WithRoundTripThreshold", d > 0, func(c *config) { c.rules.RoundTrip = d.Seconds() }, "d must be > 0, got %v", d)
}

// WithMinSamples sets how many calls (> 0, default 200) an operation needs
// before the error_rate, tail_latency and batch_get_linked_pod rules judge it.
func WithMinSamples(n uint64) Option {
	return checked("WithMinSamples", n > 0, func(c *config) { c.rules.MinSamples = n }, "n must be > 0, got 0")
}

// WithWarmup sets the period from NewCollector (≥ 0, default 5s) in which
// script reloads are expected, each script loading once per node; later
// reloads fire script_reloads.
func WithWarmup(d time.Duration) Option {
	return checked("WithWarmup", d >= 0, func(c *config) { c.warmup = d }, "d must be ≥ 0, got %v", d)
}

// WithPoolUtilizationThreshold sets the pool utilization (in use / max,
// 0 < u ≤ 1, default 0.9) that pool_exhaustion quotes as a full pool; the
// rule fires on waits, which a gauge read at the window's end would miss.
func WithPoolUtilizationThreshold(u float64) Option {
	return checked("WithPoolUtilizationThreshold", u > 0 && u <= 1, func(c *config) { c.rules.PoolUtilization = u }, "u must be in (0, 1], got %v", u)
}

// WithBatchHint sets when batch_get_linked_pod fires: GetLinkedPod at or
// above rate calls per second (> 0, default 100) while BatchGetLinkedPod
// calls are fewer than share (> 0, default 0.01) of them.
func WithBatchHint(rate, share float64) Option {
	return func(c *config) {
		checked("WithBatchHint", rate > 0, func(c *config) { c.rules.BatchHintRate = rate }, "rate must be > 0, got %v", rate)(c)
		checked("WithBatchHint", share > 0, func(c *config) { c.rules.BatchHintShare = share }, "share must be > 0, got %v", share)(c)
	}
}

// WithHistory sets how often the collector takes a snapshot in the
// background (≥ 100ms, default 5s) and how long it keeps them (0 to 10000
// whole intervals, default 10m; 0 keeps none), for Collector.Window, the
// handler's ?window= and the page's charts, within HistoryMaxBytes.
func WithHistory(interval, span time.Duration) Option {
	return func(c *config) {
		switch {
		case interval < 100*time.Millisecond:
			c.invalid("WithHistory", "interval must be ≥ 100ms, got %v", interval)
		case span < 0 || span%interval != 0 || span/interval > 10000:
			c.invalid("WithHistory", "span must be 0 to 10000 whole intervals of %v, got %v", interval, span)
		default:
			c.historyInterval, c.historySpan = interval, span
		}
	}
}

// WithEmbeddedRedis names the in-process server (the quickstart's
// miniredis) the executor talks to instead of Redis: the report says so.
func WithEmbeddedRedis(server string) Option {
	return checked("WithEmbeddedRedis", server != "", func(c *config) { c.embeddedRedis = server }, "server must name the embedded server")
}

// WithTraceURLTemplate sets how the page and trace_url link a slow call to
// its trace: an http or https URL, or a path starting with "/", in which
// {trace_id} (required) and {span_id} become the call's IDs in hex.
// Without it calls are not linked.
func WithTraceURLTemplate(tmpl string) Option {
	err := checkTraceURLTemplate(tmpl)
	return checked("WithTraceURLTemplate", err == nil, func(c *config) { c.traceURL = tmpl }, "%v", err)
}

func checkTraceURLTemplate(tmpl string) error {
	if !strings.Contains(tmpl, "{trace_id}") {
		return fmt.Errorf("template %q has no {trace_id}", tmpl)
	}
	u, err := url.Parse(expandTraceURL(tmpl, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"))
	web := err == nil && (u.Scheme == "http" || u.Scheme == "https")
	switch {
	case err != nil:
		return fmt.Errorf("template %q: %v", tmpl, err)
	case web && u.Host == "":
		return fmt.Errorf("template %q has no host", tmpl)
	case !web && (u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/")):
		return fmt.Errorf("template %q must be an http or https URL or a path starting with /", tmpl)
	}
	return nil
}

// expandTraceURL fills a checked template with a call's IDs.
func expandTraceURL(tmpl, traceID, spanID string) string {
	return strings.NewReplacer("{trace_id}", traceID, "{span_id}", spanID).Replace(tmpl)
}
