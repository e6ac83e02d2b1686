package report

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Collector reads the executor's metrics on demand and turns them into
// Reports. Attach Reader() to the MeterProvider; the collector does nothing
// between snapshots, so it costs the measured operations nothing.
type Collector struct {
	cfg     *config
	reader  *sdkmetric.ManualReader
	warmEnd time.Time // end of the script-reload warm-up

	readRuntime runtimeReader
	runtimeBase runtimeSample // the runtime's evidence when the collector was made

	mu sync.Mutex
	rm metricdata.ResourceMetrics // reused by every collection
	// Script reloads at the end of the warm-up: the latest count seen during
	// it until the warm-up ends, then fixed.
	reloadBaseline uint64
	baselineFixed  bool
}

// NewCollector returns a Collector. Its warm-up period starts now. An
// invalid option value is an error that names the option; nil options are
// ignored.
func NewCollector(opts ...Option) (*Collector, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Collector{
		cfg: cfg,
		reader: sdkmetric.NewManualReader(
			sdkmetric.WithAggregationSelector(aggregationSelector),
			sdkmetric.WithTemporalitySelector(sdkmetric.DefaultTemporalitySelector),
		),
		warmEnd:     cfg.now().Add(cfg.warmup),
		readRuntime: cfg.readRuntime,
	}
	if c.readRuntime == nil {
		c.readRuntime = goRuntime()
	}
	// The runtime counts since the process started; the report counts from
	// now, like the instruments the collector will read.
	c.runtimeBase = c.readRuntime()
	if cfg.warmup > 0 {
		// Read the reload count once when the warm-up ends, so that reloads
		// after it stand out even if nobody takes a snapshot before then.
		time.AfterFunc(cfg.warmup, c.fixBaseline)
	}
	return c, nil
}

// aggregationSelector asks for exponential histograms, which keep quantiles
// accurate over many decades of latency; everything else keeps the default.
func aggregationSelector(kind sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if kind == sdkmetric.InstrumentKindHistogram {
		return sdkmetric.AggregationBase2ExponentialHistogram{
			MaxSize:  histogramMaxSize,
			MaxScale: histogramMaxScale,
		}
	}
	return sdkmetric.DefaultAggregationSelector(kind)
}

// Reader returns the metric reader to register with
// sdkmetric.WithReader. It uses cumulative temporality.
func (c *Collector) Reader() sdkmetric.Reader { return c.reader }

// Snapshot collects the current metrics and returns a cumulative report:
// its window starts when the first instrument started recording.
func (c *Collector) Snapshot(ctx context.Context) (*Report, error) {
	return c.snapshot(ctx, time.Time{})
}

// snapshot is Snapshot with the window start given; zero means the earliest
// start time of the data. Golden tests pin it.
func (c *Collector) snapshot(ctx context.Context, start time.Time) (*Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, err := c.collect(ctx)
	if err != nil {
		return nil, err
	}
	now := c.cfg.now()
	c.trackReloads(raw, now)
	if start.IsZero() {
		start = raw.start
	}
	if start.IsZero() || start.After(now) {
		start = now
	}
	return build(raw, start, now, c.cfg), nil
}

// collect reads the reader into the reused ResourceMetrics. c.mu is held.
func (c *Collector) collect(ctx context.Context) (*rawData, error) {
	if err := c.reader.Collect(ctx, &c.rm); err != nil {
		return nil, fmt.Errorf("report: collect metrics: %w", err)
	}
	raw := gather(&c.rm)
	rs := c.readRuntime()
	if rs.ok {
		raw.sched = sub(&rs.sched, &c.runtimeBase.sched)
		raw.gcPauses = sub(&rs.gcPauses, &c.runtimeBase.gcPauses)
		raw.hasRuntime = true
	}
	if rs.os.ok && c.runtimeBase.os.ok {
		raw.osQueue = osRunQueue{
			waitSeconds: floatDelta(rs.os.waitSeconds, c.runtimeBase.os.waitSeconds),
			timeslices:  counterDelta(rs.os.timeslices, c.runtimeBase.os.timeslices),
			ok:          true,
		}
	}
	return raw, nil
}

// trackReloads splits the script reloads into warm-up and later ones.
func (c *Collector) trackReloads(raw *rawData, now time.Time) {
	if now.Before(c.warmEnd) {
		raw.warmingUp = true
		if !c.baselineFixed {
			c.reloadBaseline = raw.script.reloads
		}
		return
	}
	c.baselineFixed = true
	raw.reloadsAfterWarmup = counterDelta(raw.script.reloads, c.reloadBaseline)
}

// fixBaseline runs once when the warm-up ends.
func (c *Collector) fixBaseline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.baselineFixed {
		return
	}
	// A failed collection (no provider yet, or shut down) means nothing was
	// recorded through this reader; the last count seen stands.
	if raw, err := c.collect(context.Background()); err == nil {
		c.reloadBaseline = raw.script.reloads
	}
	c.baselineFixed = true
}
