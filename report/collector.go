package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Collector reads the executor's metrics and turns them into Reports.
// Attach Reader() to the MeterProvider. Between reports it only takes a
// snapshot every history interval, which costs the measured calls nothing.
type Collector struct {
	cfg     *config
	reader  *sdkmetric.ManualReader
	warmEnd time.Time // end of the script-reload warm-up

	runtimeBase runtimeSample // the runtime's evidence when the collector was made

	mu sync.Mutex
	rm metricdata.ResourceMetrics // reused by every collection
	// Script reloads at the end of the warm-up: the latest count seen during
	// it until the warm-up ends, then fixed.
	reloadBaseline uint64
	baselineFixed  bool

	history *history
	timer   *time.Timer
	slow    map[string][]Call // per operation: the slowest calls between each two cuts, slowest first
	takes   []time.Time       // the last slowTakes collections, oldest first
}

// slowShown is how many slow calls a report lists, and the collector keeps
// per operation between two cuts: the kept snapshots and the last
// slowTakes collections, where windows and interval reports start.
const (
	slowShown = 5
	slowTakes = 8
)

// NewCollector returns a Collector whose warm-up and history start now;
// the history's timer stops when the MeterProvider shuts the reader down.
// An invalid option value is an error that names the option.
func NewCollector(opts ...Option) (*Collector, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Collector{
		cfg:     cfg,
		reader:  sdkmetric.NewManualReader(sdkmetric.WithAggregationSelector(aggregationSelector)),
		warmEnd: cfg.now().Add(cfg.warmup),
		history: newHistory(cfg),
	}
	if cfg.readRuntime == nil {
		cfg.readRuntime = goRuntime()
	}
	// The runtime counts since the process started; the report counts from
	// now, like the instruments the collector will read.
	c.runtimeBase = cfg.readRuntime()
	if cfg.warmup > 0 {
		// Read the reload count once when the warm-up ends, so that reloads
		// after it stand out even if nobody takes a snapshot before then.
		time.AfterFunc(cfg.warmup, c.fixBaseline)
	}
	if cfg.historySpan > 0 && !cfg.manualHistory {
		c.timer = time.AfterFunc(cfg.historyInterval, c.tick)
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

// Snapshot collects the current metrics: Snapshot.Report is the
// cumulative report, Delta the report of the interval between two.
func (c *Collector) Snapshot(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, now, err := c.take(ctx)
	if err != nil {
		return nil, err
	}
	return &Snapshot{raw: raw, start: windowStart(raw.start, now), end: now, cfg: c.cfg}, nil
}

// windowStart is start, or now when start is zero or after now.
func windowStart(start, now time.Time) time.Time {
	if start.IsZero() || start.After(now) {
		return now
	}
	return start
}

// Window returns the report of the last d (0: since start), a fresh
// snapshot less the kept one that ends at or just before now − d, with the
// timeline of the kept snapshots inside it. When the history reaches back
// less far, the window is what it kept, unless the data starts inside it.
func (c *Collector) Window(ctx context.Context, d time.Duration) (*Report, error) {
	if d < 0 {
		return nil, fmt.Errorf("report: Window: d must be ≥ 0, got %v", d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, now, err := c.take(ctx)
	if err != nil {
		return nil, err
	}
	var r *Report
	start := windowStart(raw.start, now)
	if e, found := c.history.before(now.Add(-d)); d > 0 && e.raw != nil && (found || start.Before(now.Add(-d))) {
		r = build(deltaRaw(e.raw, raw), e.end, now, c.cfg)
	} else {
		r = build(raw, start, now, c.cfg)
	}
	if d > 0 {
		r.Window.RequestedSeconds = d.Seconds()
	}
	if c.cfg.historySpan > 0 {
		kept := slices.DeleteFunc(slices.Clone(c.history.entries), func(e historyEntry) bool { return e.end.Before(r.Window.Start) })
		r.Timeline = timeline(append(kept, historyEntry{end: now, raw: raw}), c.cfg.historyInterval)
	}
	return r, nil
}

// take collects and returns the raw data and its time, with the script
// reloads split at the warm-up and the slowest recent calls. c.mu is held.
func (c *Collector) take(ctx context.Context) (*rawData, time.Time, error) {
	raw, err := c.collect(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := c.cfg.now()
	c.trackReloads(raw, now)
	c.trackSlowest(raw, now)
	return raw, now, nil
}

// collect reads the reader and the runtime. c.mu is held.
func (c *Collector) collect(ctx context.Context) (*rawData, error) {
	if err := c.reader.Collect(ctx, &c.rm); err != nil {
		return nil, fmt.Errorf("report: collect metrics: %w", err)
	}
	raw := gather(&c.rm)
	rs := c.cfg.readRuntime()
	raw.runtimeSample = rs.minus(&c.runtimeBase)
	return raw, nil
}

// tick takes one background snapshot into the history and schedules the
// next, until the reader is shut down.
func (c *Collector) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.historyInterval)
	defer cancel()
	if err := c.record(ctx); errors.Is(err, sdkmetric.ErrReaderShutdown) {
		return
	}
	c.timer.Reset(c.cfg.historyInterval)
}

// record takes one snapshot into the history. A reader not registered yet
// records nothing and is tried again at the next tick.
func (c *Collector) record(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, now, err := c.take(ctx)
	if err != nil {
		return err
	}
	c.history.add(now, raw)
	return nil
}

// trackReloads splits the script reloads into warm-up and later ones.
func (c *Collector) trackReloads(raw *rawData, now time.Time) {
	if now.Before(c.warmEnd) {
		raw.warmingUp = true
		if !c.baselineFixed {
			c.reloadBaseline = raw.total(contract.MetricScriptCacheReloads)
		}
		return
	}
	c.baselineFixed = true
	raw.reloadsAfterWarmup = counterDelta(raw.total(contract.MetricScriptCacheReloads), c.reloadBaseline)
}

// trackSlowest merges the calls the SDK sampled as exemplars, told apart
// by span and time (an exemplar comes back until a later call replaces
// it), into the kept slowest calls and hands raw a copy. Keeping the
// slowShown slowest between each two cuts keeps the slowest of every
// window; calls older than the history span (10 minutes at least) go.
func (c *Collector) trackSlowest(raw *rawData, now time.Time) {
	keep := max(c.cfg.historySpan, DefaultHistorySpan)
	cuts := slices.Clone(c.takes)
	for _, e := range c.history.entries {
		cuts = append(cuts, e.end)
	}
	slices.SortFunc(cuts, time.Time.Compare)
	// interval numbers the cuts at or before t: calls with the same number
	// fell between the same two cuts.
	interval := func(t time.Time) int { return sort.Search(len(cuts), func(i int) bool { return cuts[i].After(t) }) }
	if c.takes = append(c.takes, now); len(c.takes) > slowTakes {
		c.takes = slices.Delete(c.takes, 0, 1)
	}
	if c.slow == nil {
		c.slow = make(map[string][]Call, len(raw.slowest))
	}
	for op, calls := range raw.slowest {
		c.slow[op] = append(c.slow[op], calls...)
	}
	out := make(map[string][]Call, len(c.slow))
	for op, calls := range c.slow {
		calls = slices.DeleteFunc(calls, func(x Call) bool { return x.Time.Before(now.Add(-keep)) })
		slices.SortFunc(calls, func(a, b Call) int {
			return cmp.Or(cmp.Compare(b.Seconds, a.Seconds), a.Time.Compare(b.Time), cmp.Compare(a.SpanID, b.SpanID))
		})
		calls = slices.CompactFunc(calls, func(a, b Call) bool { return a.SpanID == b.SpanID && a.Time.Equal(b.Time) })
		n, kept := map[int]int{}, calls[:0]
		for _, x := range calls {
			if i := interval(x.Time); n[i] < slowShown {
				n[i]++
				kept = append(kept, x)
			}
		}
		calls = slices.Clip(kept)
		c.slow[op] = calls
		out[op] = slices.Clone(calls)
	}
	raw.slowest = out
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
		c.reloadBaseline = raw.total(contract.MetricScriptCacheReloads)
	}
	c.baselineFixed = true
}

// Snapshot is a collector's cumulative data at one moment
// (Collector.Snapshot): what its reports are computed from. Its Report is
// the cumulative report; Delta makes the report of the interval between
// two.
type Snapshot struct {
	raw        *rawData
	start, end time.Time
	cfg        *config
}

// Report returns the cumulative report of s: its window starts when the
// first instrument started recording and ends at the snapshot.
func (s *Snapshot) Report() *Report {
	return build(cmp.Or(s.raw, &rawData{}), s.start, s.end, cmp.Or(s.cfg, defaultConfig()))
}

// Delta returns the report of the interval between two snapshots of the same
// collector, from prev's end to cur's end, with cur's thresholds: counts
// and histogram buckets are differenced (a series that went down
// restarted and counts from zero), gauges and statuses are cur's, max is
// the upper edge of the highest bucket that gained values, capped by cur's
// max, and the slowest calls are cur's inside the interval
// (docs/report.md). A nil prev returns cur's cumulative report; a nil cur,
// nil.
func Delta(prev, cur *Snapshot) *Report {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return cur.Report()
	}
	return build(deltaRaw(cmp.Or(prev.raw, &rawData{}), cmp.Or(cur.raw, &rawData{})), prev.end, cur.end, cmp.Or(cur.cfg, defaultConfig()))
}

// historyScale is the finest histogram scale the history keeps: buckets of
// 2^(1/16), 4.4%, a quarter of the memory of scale 5 over the same range.
// Reports of a window carry that resolution (docs/report.md).
const historyScale = 4

// historyEntry is one kept snapshot.
type historyEntry struct {
	end  time.Time
	raw  *rawData
	size int // bytes, estimated
}

// history keeps the collector's background snapshots, oldest first, within
// a count (span / interval + 1) and HistoryMaxBytes.
type history struct {
	entries  []historyEntry
	bytes    int
	maxCount int
	maxBytes int
}

func newHistory(cfg *config) *history {
	h := &history{maxBytes: HistoryMaxBytes}
	if cfg.historySpan > 0 {
		h.maxCount = int(cfg.historySpan/cfg.historyInterval) + 1
	}
	return h
}

// add keeps raw as the snapshot that ends at end, with its histograms
// coarsened to historyScale, and drops the oldest entries past the bounds.
func (h *history) add(end time.Time, raw *rawData) {
	if h.maxCount == 0 {
		return
	}
	e := historyEntry{end: end, raw: raw.coarsened(historyScale)}
	e.size = e.raw.sizeBytes()
	h.entries = append(h.entries, e)
	h.bytes += e.size
	for len(h.entries) > 1 && (len(h.entries) > h.maxCount || h.bytes > h.maxBytes) {
		h.bytes -= h.entries[0].size
		h.entries[0] = historyEntry{}
		h.entries = h.entries[1:]
	}
}

// before returns the latest entry that ends at or before t, or the oldest
// entry and false when none does.
func (h *history) before(t time.Time) (historyEntry, bool) {
	for i := len(h.entries) - 1; i >= 0; i-- {
		if !h.entries[i].end.After(t) {
			return h.entries[i], true
		}
	}
	if len(h.entries) == 0 {
		return historyEntry{}, false
	}
	return h.entries[0], false
}

// coarsened is a copy of raw whose exponential histograms are no finer than
// scale, without the slowest calls (the collector keeps them apart).
func (raw *rawData) coarsened(scale int32) *rawData {
	c := raw.each(func(_ string, _ attrs, s *sample) sample { return sample{value: s.value, hist: coarse(&s.hist, scale)} })
	c.slowest = nil
	return c
}

func coarse(h *histogram, scale int32) histogram {
	c := h.clone()
	if c.bounds == nil && c.scale > scale {
		c.downscale(c.scale - scale)
	}
	c.counts = slices.Clip(c.counts)
	return c
}

// timeline turns consecutive snapshots (oldest first) into one point per
// interval and operation.
func timeline(entries []historyEntry, interval time.Duration) *Timeline {
	tl := &Timeline{IntervalSeconds: interval.Seconds(), Operations: []Series{}}
	var series map[string]*Series
	for i := 1; i < len(entries); i++ {
		cur, prev := entries[i], entries[i-1]
		seconds := cur.end.Sub(prev.end).Seconds()
		if seconds <= 0 {
			continue
		}
		d := deltaRaw(prev.raw, cur.raw)
		for _, name := range d.operationNames() {
			st := d.operation(name, seconds)
			s := entry(&series, name)
			s.Name = name
			s.Points = append(s.Points, Point{End: cur.end.UTC(), OpsPerSec: st.OpsPerSec, ErrorRate: st.ErrorRate, P99Seconds: st.P99Seconds})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(series)) {
		tl.Operations = append(tl.Operations, *series[name])
	}
	return tl
}
