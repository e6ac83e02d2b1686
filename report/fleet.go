package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"

	"github.com/statefulroute/sfotel/internal/contract"
)

// FleetQuery says which Prometheus server FleetReport asks, about which
// processes, over which time range.
type FleetQuery struct {
	// Prometheus is the server's base URL, such as http://127.0.0.1:9090.
	// Required.
	Prometheus string
	// Selector holds label matchers added to every query, such as
	// job="router",env="prod". Empty: every instance the server scrapes.
	Selector string
	// Start and End bound the range; Start must be before End.
	Start, End time.Time
	// Namespace is the prefix the processes' Prometheus exporter puts on
	// every name (exporters.WithNamespace), if any.
	Namespace string
	// Client sends the queries; nil uses a client with a 30s timeout.
	Client *http.Client
}

// FleetReport builds the report of every process a Prometheus server
// scrapes, over q's range: the same report, rules and formats as a
// process's own, from the series that sfotel's Prometheus exporter writes,
// with exact counter increases and summed explicit histogram buckets
// (docs/report.md, "Fleet report"). opts set the rules' thresholds as for
// NewCollector; an invalid value, or field of q, is an error that names it.
// The first query that fails stops the others and is the error. A series
// with a sample that is NaN, infinite or beyond 2^53 is left out and named
// in Report.Warnings.
func FleetReport(ctx context.Context, q FleetQuery, opts ...Option) (*Report, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	f, err := newFleet(q)
	var raw *rawData
	if err == nil {
		raw, err = f.gather(ctx)
	}
	if err != nil {
		return nil, err
	}
	r := build(raw, q.Start, q.End, cfg)
	r.Warnings = f.warnings()
	return r, nil
}

func newFleet(q FleetQuery) (*fleet, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	c, err := api.NewClient(api.Config{Address: q.Prometheus, Client: cmp.Or(q.Client, &http.Client{Timeout: 30 * time.Second})})
	if err != nil {
		return nil, fmt.Errorf("report: FleetQuery.Prometheus: %w", err)
	}
	return &fleet{api: v1.NewAPI(c), q: q}, nil
}

func (q *FleetQuery) check() error {
	u, err := url.Parse(q.Prometheus)
	switch {
	case q.Prometheus == "":
		return errors.New("report: FleetQuery.Prometheus: the server's URL is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("report: FleetQuery.Prometheus: %q is not an http or https URL", q.Prometheus)
	case q.Start.IsZero() || q.End.IsZero():
		return errors.New("report: FleetQuery.Start, End: both are required")
	case !q.Start.Before(q.End):
		return fmt.Errorf("report: FleetQuery.Start: %v is not before End %v", q.Start, q.End)
	case q.End.Sub(q.Start) < time.Millisecond:
		return errors.New("report: FleetQuery.End: the range must be at least 1ms")
	case strings.ContainsAny(q.Selector, "{}"):
		return fmt.Errorf("report: FleetQuery.Selector: %q: give the matchers without braces, such as job=\"router\"", q.Selector)
	}
	return nil
}

// The Go runtime's histograms as client_golang's Go collector names them
// when it is asked for runtime/metrics (collectors.WithGoCollectorRuntimeMetrics).
const (
	promSchedLatencies = "go_sched_latencies_seconds"
	promGCPauses       = "go_sched_pauses_total_gc_seconds"
)

// promGC are the collector's work and settings as the Go collector names
// them (a counter's increase, else the last value): what gc_pressure and
// the GOGC advice read in a process, summed over the processes.
var promGC = map[string]bool{
	"go_gc_cycles_total_gc_cycles_total": true, "go_gc_gogc_percent": false, "go_gc_heap_live_bytes": false,
	"go_cpu_classes_total_cpu_seconds_total": true, "go_cpu_classes_idle_cpu_seconds_total": true,
	"go_cpu_classes_gc_mark_idle_cpu_seconds_total": true, "go_cpu_classes_gc_mark_assist_cpu_seconds_total": true,
	"go_cpu_classes_gc_mark_dedicated_cpu_seconds_total": true, "go_cpu_classes_gc_pause_cpu_seconds_total": true,
}

// gcOfFleet sums the collector's work over the processes; ok only when
// every series is there. GOGC and the live heap are the highest of any.
func gcOfFleet(res map[string][]*series) gcWork {
	v := make(map[string]float64, len(promGC))
	for name, counter := range promGC {
		if len(res[name]) == 0 {
			return gcWork{}
		}
		for _, s := range res[name] {
			if counter {
				v[name] += s.value
			} else {
				v[name] = max(v[name], s.value)
			}
		}
	}
	return gcWork{
		cycles: uint64(v["go_gc_cycles_total_gc_cycles_total"]), gogc: uint64(v["go_gc_gogc_percent"]), liveBytes: uint64(v["go_gc_heap_live_bytes"]),
		cpuSeconds:  v["go_cpu_classes_gc_mark_assist_cpu_seconds_total"] + v["go_cpu_classes_gc_mark_dedicated_cpu_seconds_total"] + v["go_cpu_classes_gc_pause_cpu_seconds_total"],
		busySeconds: v["go_cpu_classes_total_cpu_seconds_total"] - v["go_cpu_classes_idle_cpu_seconds_total"] - v["go_cpu_classes_gc_mark_idle_cpu_seconds_total"],
		ok:          true,
	}
}

// promName is the name the exporter gives the instrument d: its unit and
// kind come from the contract.
func (q *FleetQuery) promName(d contract.Desc) string {
	var typ otlptranslator.MetricType = otlptranslator.MetricTypeGauge // up-down counters too
	switch d.Kind {
	case contract.KindCounter:
		typ = otlptranslator.MetricTypeMonotonicCounter
	case contract.KindHistogram:
		typ = otlptranslator.MetricTypeHistogram
	}
	namer := otlptranslator.NewMetricNamer(q.Namespace, otlptranslator.UnderscoreEscapingWithSuffixes)
	name, err := namer.Build(otlptranslator.Metric{Name: d.Name, Unit: d.Unit, Type: typ})
	if err != nil {
		return d.Name
	}
	return name
}

// promLabel is the label an attribute key becomes.
func promLabel(key string) model.LabelName {
	name, err := (&otlptranslator.LabelNamer{}).Build(key)
	if err != nil {
		return model.LabelName(key)
	}
	return model.LabelName(name)
}

// scopeMatcher keeps the series of sfotel's instrumentation scopes when
// the exporter writes otel_scope_name (exporters.WithScopeLabels), and every
// series when it does not: the empty alternative matches a series without
// the label.
var scopeMatcher = `otel_scope_name=~"` + promRegexp(contract.ScopeExecutor) + `|` + promRegexp(contract.ScopeRedis) + `|"`

// promRegexp quotes s as a regular expression inside a PromQL string,
// whose backslashes must themselves be escaped.
func promRegexp(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), `\`, `\\`)
}

// fleet runs the queries of one FleetReport.
type fleet struct {
	api v1.API
	q   FleetQuery

	mu      sync.Mutex
	skipped []string // the series left out, with their labels
}

// usable reports whether a sample of the series name{m} can be counted or
// summed: a number no larger than maxCount in size. NaN, an infinity or a
// larger value is a broken exporter or server, not data: the series is left
// out and named in the report's warnings.
func (f *fleet) usable(name string, m model.Metric, v model.SampleValue) bool {
	if math.Abs(float64(v)) <= maxCount {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skipped = append(f.skipped, name+m.String()+" = "+v.String())
	return false
}

// maxWarnings bounds the series the warnings name.
const maxWarnings = 10

// warnings name the series left out, sorted, at most maxWarnings of them.
func (f *fleet) warnings() []string {
	slices.Sort(f.skipped)
	var out []string
	for i, s := range f.skipped {
		if i == maxWarnings {
			out = append(out, fmt.Sprintf("and %d more series left out", len(f.skipped)-i))
			break
		}
		out = append(out, "left out "+s+": not a number, infinite or beyond 2^53")
	}
	return out
}

// query runs an instant query at t.
func query[T model.Value](ctx context.Context, f *fleet, query string, t time.Time) (T, error) {
	var zero T
	v, _, _, err := f.api.Query(ctx, query, t)
	var apiErr *v1.Error
	switch {
	case errors.As(err, &apiErr):
		return zero, fmt.Errorf("report: Prometheus query %s: %w", query, err)
	case err != nil:
		return zero, fmt.Errorf("report: Prometheus: %w", err) // the error names the URL; the query does not matter
	}
	out, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("report: Prometheus query %s: got a %T, want a %T", query, v, zero)
	}
	return out, nil
}

// series is one Prometheus series' labels (without the name) and its
// value, or its histogram.
type series struct {
	labels model.Metric
	value  float64
	hist   *histogram
}

// attr reads a label by the OTel attribute key it comes from.
func (s *series) attr(key string) string { return string(s.labels[promLabel(key)]) }

// vector runs an instant query at t and returns its samples by series,
// without the name.
func (f *fleet) vector(ctx context.Context, q string, t time.Time) (map[model.Fingerprint]*model.Sample, error) {
	vec, err := query[model.Vector](ctx, f, q, t)
	out := make(map[model.Fingerprint]*model.Sample, len(vec))
	for _, s := range vec {
		delete(s.Metric, model.MetricNameLabel)
		out[s.Metric.Fingerprint()] = s
	}
	return out, err
}

// read returns every series of name: its last value in the range or, for
// a counter, its exact increase over (Start, End]: its last value in the
// range less its value at Start (0 for a series that began in the range).
// A counter that reset (a process restarted under the same labels) is read
// sample by sample, each reset adding the value it restarted to.
func (f *fleet) read(ctx context.Context, name string, counter bool) ([]*series, error) {
	m := []string{scopeMatcher}
	if f.q.Selector != "" {
		m = append(m, f.q.Selector)
	}
	sel, rng := name+"{"+strings.Join(m, ",")+"}", "["+strconv.FormatInt(f.q.End.Sub(f.q.Start).Milliseconds(), 10)+"ms]"
	last, err := f.vector(ctx, "last_over_time("+sel+rng+")", f.q.End)
	var base, resets map[model.Fingerprint]*model.Sample
	if err == nil && counter {
		if base, err = f.vector(ctx, sel, f.q.Start); err == nil {
			resets, err = f.vector(ctx, "resets("+sel+rng+")", f.q.End)
		}
	}
	if err != nil {
		return nil, err
	}
	bad := map[model.Fingerprint]bool{} // a sample is not usable: left out
	for fp, b := range base {
		bad[fp] = !f.usable(name, b.Metric, b.Value)
	}
	out, walk := map[model.Fingerprint]*series{}, map[model.Fingerprint]float64{}
	for fp, s := range last {
		if bad[fp] || !f.usable(name, s.Metric, s.Value) {
			continue
		}
		out[fp] = &series{labels: s.Metric, value: float64(s.Value)}
		if !counter {
			continue
		}
		var from float64
		if b := base[fp]; b != nil {
			from = float64(b.Value)
		}
		if r := resets[fp]; (r != nil && r.Value > 0) || out[fp].value < from {
			walk[fp] = from
		}
		out[fp].value = math.Max(out[fp].value-from, 0)
	}
	if len(walk) > 0 {
		m, err := query[model.Matrix](ctx, f, sel+rng, f.q.End)
		if err != nil {
			return nil, err
		}
		for _, s := range m {
			delete(s.Metric, model.MetricNameLabel)
			fp := s.Metric.Fingerprint()
			prev, ok := walk[fp]
			if !ok || out[fp] == nil {
				continue
			}
			out[fp].value = 0
			for _, p := range s.Values {
				if !f.usable(name, s.Metric, p.Value) {
					delete(out, fp)
					break
				}
				out[fp].value += counterDelta(float64(p.Value), prev)
				prev = float64(p.Value)
			}
		}
	}
	return slices.Collect(maps.Values(out)), nil
}

// fetch runs the queries of the instruments in reads, and of the Go
// runtime's histograms and the processes' target_info, four at a time, and
// returns their series by Prometheus name. The first error stops the rest
// and is the one returned: a server that is down fails every query alike.
func (f *fleet) fetch(ctx context.Context) (map[string][]*series, error) {
	jobs := map[string]bool{ // name → a counter's increase, else the last value
		promSchedLatencies + "_bucket": true, promGCPauses + "_bucket": true, "target_info": false,
	}
	maps.Copy(jobs, promGC)
	for _, d := range reportInstruments() {
		switch name := f.q.promName(d); d.Kind {
		case contract.KindHistogram:
			jobs[name+"_bucket"], jobs[name+"_sum"] = true, true
		default:
			jobs[name] = d.Kind == contract.KindCounter
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 4)
		out   = make(map[string][]*series, len(jobs))
	)
	for name, counter := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			ss, err := f.read(ctx, name, counter)
			mu.Lock()
			defer mu.Unlock()
			if out[name] = ss; err != nil && first == nil {
				first = err
				cancel()
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil { // done before a query failed
		first = fmt.Errorf("report: Prometheus %s: %w", f.q.Prometheus, ctx.Err())
	}
	return out, first
}

// gather adds every series to the raw data.
func (f *fleet) gather(ctx context.Context) (*rawData, error) {
	res, err := f.fetch(ctx)
	if err != nil {
		return nil, err
	}
	raw := &rawData{start: f.q.Start, source: Source{Kind: SourcePrometheus, Prometheus: f.q.Prometheus, Selector: f.q.Selector}}
	instances := map[string]bool{}
	for _, d := range reportInstruments() {
		name, ss := f.q.promName(d), []*series(nil)
		if d.Kind == contract.KindHistogram {
			ss = promHistograms(res[name+"_bucket"], res[name+"_sum"])
		} else {
			ss = res[name]
		}
		for _, s := range ss {
			instances[s.attr(attrInstance)] = true
			raw.add(d.Name, s.attr, s.value, s.hist)
		}
	}
	for _, s := range promHistograms(res[promSchedLatencies+"_bucket"], nil) {
		raw.sched.merge(s.hist)
		raw.hasRuntime = true
	}
	for _, s := range promHistograms(res[promGCPauses+"_bucket"], nil) {
		raw.gcPauses.merge(s.hist)
	}
	raw.gc = gcOfFleet(res) // shown with the scheduling latencies, as in a process
	// Warm-up reloads are a process's own business; the fleet counts all.
	raw.reloadsAfterWarmup = raw.total(contract.MetricScriptCacheReloads)

	label := func(name string, ss []*series) string {
		set := map[string]bool{}
		for _, s := range ss {
			set[string(s.labels[model.LabelName(name)])] = true
		}
		delete(set, "")
		return strings.Join(slices.Sorted(maps.Keys(set)), ",")
	}
	raw.service.Name = cmp.Or(label("service_name", res["target_info"]), label("job", res[f.q.promName(contract.OperationsCounter.Desc)]))
	raw.service.Version = label("service_version", res["target_info"])
	delete(instances, "")
	raw.source.Instances = slices.Sorted(maps.Keys(instances))
	return raw, nil
}

// promHistograms turns the increases of a histogram's _bucket and _sum
// series into one explicit histogram per series (its labels but le): the
// cumulative le buckets become per-bucket counts.
func promHistograms(buckets, sums []*series) []*series {
	type le struct{ bound, cum float64 }
	per := map[model.Fingerprint]*series{}
	les := map[model.Fingerprint][]le{}
	for _, s := range buckets {
		b, err := strconv.ParseFloat(string(s.labels[model.BucketLabel]), 64)
		if err != nil || math.IsNaN(b) {
			continue
		}
		m := s.labels.Clone()
		delete(m, model.BucketLabel)
		fp := m.Fingerprint()
		if per[fp] == nil {
			per[fp] = &series{labels: m}
		}
		les[fp] = append(les[fp], le{b, s.value})
	}
	sum := make(map[model.Fingerprint]float64, len(sums))
	for _, s := range sums {
		sum[s.labels.Fingerprint()] = s.value
	}
	for fp, s := range per {
		x := les[fp]
		slices.SortFunc(x, func(a, b le) int { return cmp.Compare(a.bound, b.bound) })
		var bounds []float64
		counts := make([]uint64, 0, len(x)+1)
		var prev float64
		for _, l := range x {
			// A bucket's increase is never below the one before it; the
			// increases of separate series can disagree by a scrape.
			counts = append(counts, count(math.Max(l.cum-prev, 0)))
			prev = math.Max(prev, l.cum)
			if !math.IsInf(l.bound, 1) {
				bounds = append(bounds, l.bound)
			}
		}
		if len(counts) == len(bounds) { // no +Inf bucket
			counts = append(counts, 0)
		}
		v, hasSum := sum[fp]
		h := newExplicit(bounds, counts, v, hasSum)
		s.hist = &h
	}
	return slices.Collect(maps.Values(per))
}
