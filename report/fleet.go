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
// process's own, from the series that sfotel's Prometheus exporter writes.
// Counts are the exact increases of the counters over the range (restarts
// included, no extrapolation), summed over instances; quantiles come from
// the summed explicit histogram buckets, with the boundaries the data has
// (docs/report.md, "Fleet report", says how accurate they are). Clients and
// their pools are told apart by instance. Slowest calls and, unless
// Prometheus scrapes them, the Go runtime's histograms are not available.
// opts set the rules' thresholds as for NewCollector; an invalid value, or
// an invalid field of q, is an error that names it. ctx bounds all the
// queries; the first that fails stops the others and is the error. A series
// with a sample that is NaN, infinite or beyond 2^53 is left out and named
// in Report.Warnings.
func FleetReport(ctx context.Context, q FleetQuery, opts ...Option) (*Report, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	f, err := newFleet(q)
	if err != nil {
		return nil, err
	}
	raw, err := f.gather(ctx)
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
	client := q.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	c, err := api.NewClient(api.Config{Address: q.Prometheus, Client: client})
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

func (s *series) point() *point {
	return &point{
		attr:     func(key string) string { return string(s.labels[promLabel(key)]) },
		instance: string(s.labels["instance"]),
		value:    s.value, hist: s.hist,
	}
}

// selector is the label matchers of every query.
func (f *fleet) selector(name string) string {
	m := []string{scopeMatcher}
	if f.q.Selector != "" {
		m = append(m, f.q.Selector)
	}
	return name + "{" + strings.Join(m, ",") + "}"
}

// rangeSel is the range of the query, in milliseconds.
func (f *fleet) rangeSel() string {
	return "[" + strconv.FormatInt(f.q.End.Sub(f.q.Start).Milliseconds(), 10) + "ms]"
}

// gauge returns the last value of every series of name in the range.
func (f *fleet) gauge(ctx context.Context, name string) ([]series, error) {
	vec, err := query[model.Vector](ctx, f, "last_over_time("+f.selector(name)+f.rangeSel()+")", f.q.End)
	if err != nil {
		return nil, err
	}
	out := make([]series, 0, len(vec))
	for _, s := range vec {
		delete(s.Metric, model.MetricNameLabel)
		if f.usable(name, s.Metric, s.Value) {
			out = append(out, series{labels: s.Metric, value: float64(s.Value)})
		}
	}
	return out, nil
}

// increase returns the exact increase of every series of the counter name
// over (Start, End]: its last value in the range less its value at Start
// (0 for a series that began in the range). A series that reset (a process
// restarted under the same labels) is read sample by sample, each reset
// adding the value the counter restarted to.
func (f *fleet) increase(ctx context.Context, name string) ([]series, error) {
	sel := f.selector(name)
	last, err := query[model.Vector](ctx, f, "last_over_time("+sel+f.rangeSel()+")", f.q.End)
	if err != nil {
		return nil, err
	}
	base, err := query[model.Vector](ctx, f, sel, f.q.Start)
	if err != nil {
		return nil, err
	}
	resets, err := query[model.Vector](ctx, f, "resets("+sel+f.rangeSel()+")", f.q.End)
	if err != nil {
		return nil, err
	}
	bad := map[model.Fingerprint]bool{} // a sample is not usable: left out
	baseline := make(map[model.Fingerprint]float64, len(base))
	for _, s := range base {
		delete(s.Metric, model.MetricNameLabel)
		bad[s.Metric.Fingerprint()] = !f.usable(name, s.Metric, s.Value)
		baseline[s.Metric.Fingerprint()] = float64(s.Value)
	}
	walk := make(map[model.Fingerprint]bool, len(resets))
	for _, s := range resets {
		delete(s.Metric, model.MetricNameLabel)
		walk[s.Metric.Fingerprint()] = s.Value > 0
	}
	out, reread := make(map[model.Fingerprint]*series, len(last)), false
	for _, s := range last {
		delete(s.Metric, model.MetricNameLabel)
		fp := s.Metric.Fingerprint()
		if bad[fp] || !f.usable(name, s.Metric, s.Value) {
			continue
		}
		b := baseline[fp]
		walk[fp] = walk[fp] || float64(s.Value) < b
		reread = reread || walk[fp]
		out[fp] = &series{labels: s.Metric, value: math.Max(float64(s.Value)-b, 0)}
	}
	if reread {
		// The series that reset, sample by sample.
		m, err := query[model.Matrix](ctx, f, sel+f.rangeSel(), f.q.End)
		if err != nil {
			return nil, err
		}
		for _, s := range m {
			delete(s.Metric, model.MetricNameLabel)
			fp := s.Metric.Fingerprint()
			if !walk[fp] || out[fp] == nil {
				continue
			}
			prev, total := baseline[fp], 0.0
			for _, p := range s.Values {
				if !f.usable(name, s.Metric, p.Value) {
					delete(out, fp)
					break
				}
				v := float64(p.Value)
				if v < prev {
					total += v // restarted from zero
				} else {
					total += v - prev
				}
				prev = v
			}
			if out[fp] != nil {
				out[fp].value = total
			}
		}
	}
	list := make([]series, 0, len(out))
	for _, s := range out {
		list = append(list, *s)
	}
	return list, nil
}

// fetch runs the queries of the instruments in reads, and of the Go
// runtime's histograms and the processes' target_info, four at a time, and
// returns their series by Prometheus name. The first error stops the rest
// and is the one returned: a server that is down fails every query alike.
func (f *fleet) fetch(ctx context.Context) (map[string][]series, error) {
	type job struct {
		name  string
		gauge bool // the last value; else the increase over the range
		out   []series
	}
	var jobs []*job
	add := func(name string, gauge bool) { jobs = append(jobs, &job{name: name, gauge: gauge}) }
	for _, d := range reportInstruments() {
		switch name := f.q.promName(d); d.Kind {
		case contract.KindHistogram:
			add(name+"_bucket", false)
			add(name+"_sum", false)
		case contract.KindCounter:
			add(name, false)
		default:
			add(name, true)
		}
	}
	add(promSchedLatencies+"_bucket", false)
	add(promGCPauses+"_bucket", false)
	add("target_info", true)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, 4)
	)
	for _, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			var err error
			if j.gauge {
				j.out, err = f.gauge(ctx, j.name)
			} else {
				j.out, err = f.increase(ctx, j.name)
			}
			if err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil { // done before a query failed
		first = fmt.Errorf("report: Prometheus %s: %w", f.q.Prometheus, ctx.Err())
	}
	if first != nil {
		return nil, first
	}
	out := make(map[string][]series, len(jobs))
	for _, j := range jobs {
		out[j.name] = j.out
	}
	return out, nil
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
		name, ss := f.q.promName(d), []series(nil)
		if d.Kind == contract.KindHistogram {
			ss = promHistograms(res[name+"_bucket"], res[name+"_sum"])
		} else {
			ss = res[name]
		}
		for _, s := range ss {
			p := s.point()
			if p.instance != "" {
				instances[p.instance] = true
			}
			raw.add(d.Name, p)
		}
	}
	for _, s := range promHistograms(res[promSchedLatencies+"_bucket"], nil) {
		raw.sched.merge(s.hist)
		raw.hasRuntime = true
	}
	for _, s := range promHistograms(res[promGCPauses+"_bucket"], nil) {
		raw.gcPauses.merge(s.hist)
	}
	// Warm-up reloads are a process's own business; the fleet counts all.
	raw.reloadsAfterWarmup = raw.total(contract.MetricScriptCacheReloads)

	services := map[string]bool{}
	var versions []string
	for _, s := range res["target_info"] {
		if n := string(s.labels["service_name"]); n != "" {
			services[n] = true
		}
		if v := string(s.labels["service_version"]); v != "" && !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	if len(services) == 0 {
		for _, s := range res[f.q.promName(contract.OperationsCounter.Desc)] {
			if j := string(s.labels["job"]); j != "" {
				services[j] = true
			}
		}
	}
	raw.service.Name = strings.Join(slices.Sorted(maps.Keys(services)), ",")
	slices.Sort(versions)
	raw.service.Version = strings.Join(versions, ",")
	raw.source.Instances = slices.Sorted(maps.Keys(instances))
	return raw, nil
}

// promHistograms turns the increases of a histogram's _bucket and _sum
// series into one explicit histogram per series (its labels but le): the
// cumulative le buckets become per-bucket counts.
func promHistograms(buckets, sums []series) []series {
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
	out := make([]series, 0, len(per))
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
		out = append(out, *s)
	}
	return out
}
