package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	if err := q.check(); err != nil {
		return nil, err
	}
	client := q.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	f := &fleet{client: client, base: strings.TrimSuffix(q.Prometheus, "/"), q: q}
	raw, err := f.gather(ctx)
	if err != nil {
		return nil, err
	}
	r := build(raw, q.Start, q.End, cfg)
	r.Warnings = f.warnings()
	return r, nil
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

// promKind is how the exporter writes an instrument.
type promKind int

const (
	promCounter   promKind = iota // cumulative: the increase over the range
	promGauge                     // the last value in the range
	promHistogram                 // _bucket, _sum, _count: increases
)

// fleetMetric is one instrument the fleet report reads.
type fleetMetric struct {
	name, unit string
	kind       promKind
}

// fleetNames are the instruments of the report; their unit and kind, which
// decide the Prometheus names, come from the contract's one definition of
// each. A test checks every name against a real scrape of the exporters
// package.
var fleetNames = []string{
	contract.MetricOperations, contract.MetricErrors, contract.MetricOperationDuration,
	contract.MetricScriptCacheHits, contract.MetricScriptCacheMisses, contract.MetricScriptCacheReloads,
	contract.MetricStateCacheHits, contract.MetricStateCacheMisses, contract.MetricCacheHitRatio,
	contract.MetricConnectionStatus, contract.MetricPingDuration, contract.MetricCommandDuration,
	contract.MetricPoolConnectionCount, contract.MetricPoolMax, contract.MetricPoolWaits,
	contract.MetricPoolTimeouts, contract.MetricPoolHits, contract.MetricPoolMisses,
	contract.MetricPoolWaitTime, contract.MetricPoolUtilization,
}

var fleetMetrics = func() []fleetMetric {
	descs := map[string]contract.Desc{}
	for _, d := range contract.Instruments() {
		descs[d.Name] = d
	}
	out := make([]fleetMetric, 0, len(fleetNames)+len(routingNames))
	for _, name := range append(fleetNames, routingNames...) {
		d, ok := descs[name]
		if !ok {
			panic("report: " + name + " is not an instrument of the contract")
		}
		m := fleetMetric{name: d.Name, unit: d.Unit, kind: promGauge}
		switch d.Kind {
		case contract.KindCounter:
			m.kind = promCounter
		case contract.KindHistogram:
			m.kind = promHistogram
		}
		out = append(out, m)
	}
	return out
}()

// The Go runtime's histograms as client_golang's Go collector names them
// when it is asked for runtime/metrics (collectors.WithGoCollectorRuntimeMetrics).
const (
	promSchedLatencies = "go_sched_latencies_seconds"
	promGCPauses       = "go_sched_pauses_total_gc_seconds"
)

// promName is the name the exporter gives m.
func (q *FleetQuery) promName(m fleetMetric) string {
	var typ otlptranslator.MetricType = otlptranslator.MetricTypeGauge
	switch m.kind {
	case promCounter:
		typ = otlptranslator.MetricTypeMonotonicCounter
	case promHistogram:
		typ = otlptranslator.MetricTypeHistogram
	}
	namer := otlptranslator.NewMetricNamer(q.Namespace, otlptranslator.UnderscoreEscapingWithSuffixes)
	name, err := namer.Build(otlptranslator.Metric{Name: m.name, Unit: m.unit, Type: typ})
	if err != nil {
		return m.name
	}
	return name
}

// promLabel is the label an attribute key becomes.
func promLabel(key string) model.LabelName {
	namer := otlptranslator.LabelNamer{}
	name, err := namer.Build(key)
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
	client *http.Client
	base   string
	q      FleetQuery

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

// query runs an instant query at t through the HTTP API (POST
// /api/v1/query) and returns a vector or a matrix.
func (f *fleet) query(ctx context.Context, query string, t time.Time) (model.Value, error) {
	form := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("report: Prometheus query %s: %w", query, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("report: Prometheus: %w", err) // the error names the URL; the query does not matter
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("report: Prometheus %s: reading the answer: %w", f.base, err)
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("report: Prometheus query %s: %s: %.200q", query, resp.Status, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("report: Prometheus query %s: %s: %s", query, r.ErrorType, r.Error)
	}
	var v model.Value
	switch r.Data.ResultType {
	case "vector":
		var vec model.Vector
		err, v = json.Unmarshal(r.Data.Result, &vec), vec
	case "matrix":
		var m model.Matrix
		err, v = json.Unmarshal(r.Data.Result, &m), m
	default:
		return nil, fmt.Errorf("report: Prometheus query %s: result type %q", query, r.Data.ResultType)
	}
	if err != nil {
		return nil, fmt.Errorf("report: Prometheus query %s: %w", query, err)
	}
	return v, nil
}

// series is one Prometheus series' labels (without the name) and value.
type series struct {
	labels model.Metric
	value  float64
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

func (f *fleet) vector(ctx context.Context, query string, at time.Time) (model.Vector, error) {
	v, err := f.query(ctx, query, at)
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("report: Prometheus query %s: got a %s, want a vector", query, v.Type())
	}
	return vec, nil
}

// gauge returns the last value of every series of name in the range.
func (f *fleet) gauge(ctx context.Context, name string) ([]series, error) {
	vec, err := f.vector(ctx, "last_over_time("+f.selector(name)+f.rangeSel()+")", f.q.End)
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
	last, err := f.vector(ctx, "last_over_time("+sel+f.rangeSel()+")", f.q.End)
	if err != nil {
		return nil, err
	}
	base, err := f.vector(ctx, sel, f.q.Start)
	if err != nil {
		return nil, err
	}
	resets, err := f.vector(ctx, "resets("+sel+f.rangeSel()+")", f.q.End)
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
	reset := make(map[model.Fingerprint]bool, len(resets))
	for _, s := range resets {
		delete(s.Metric, model.MetricNameLabel)
		if s.Value > 0 {
			reset[s.Metric.Fingerprint()] = true
		}
	}
	out := make([]series, 0, len(last))
	var walk []model.Fingerprint
	for _, s := range last {
		delete(s.Metric, model.MetricNameLabel)
		fp := s.Metric.Fingerprint()
		if bad[fp] || !f.usable(name, s.Metric, s.Value) {
			bad[fp] = true
			continue
		}
		b := baseline[fp]
		if reset[fp] || float64(s.Value) < b {
			walk = append(walk, fp)
		}
		out = append(out, series{labels: s.Metric, value: math.Max(float64(s.Value)-b, 0)})
	}
	if len(walk) == 0 {
		return out, nil
	}
	exact, err := f.walk(ctx, sel, name, baseline, walk, bad)
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, s := range out {
		fp := s.labels.Fingerprint()
		if v, ok := exact[fp]; ok {
			s.value = v
		}
		if !bad[fp] {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

// walk adds up the increases of the series fps sample by sample, and marks
// bad those with a sample that is not usable.
func (f *fleet) walk(ctx context.Context, sel, name string, baseline map[model.Fingerprint]float64, fps []model.Fingerprint, bad map[model.Fingerprint]bool) (map[model.Fingerprint]float64, error) {
	query := sel + f.rangeSel()
	v, err := f.query(ctx, query, f.q.End)
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("report: Prometheus query %s: got a %s, want a matrix", query, v.Type())
	}
	want := make(map[model.Fingerprint]bool, len(fps))
	for _, fp := range fps {
		want[fp] = true
	}
	out := make(map[model.Fingerprint]float64, len(fps))
	for _, s := range m {
		delete(s.Metric, model.MetricNameLabel)
		fp := s.Metric.Fingerprint()
		if !want[fp] {
			continue
		}
		prev, total := baseline[fp], 0.0
		for _, p := range s.Values {
			if !f.usable(name, s.Metric, p.Value) {
				bad[fp] = true
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
		out[fp] = total
	}
	return out, nil
}

// fetched holds every query's result, by Prometheus name (with _bucket,
// _sum, _count for histograms).
type fetched map[string][]series

// fetch runs the queries, four at a time. The first error stops the rest
// and is the one returned: a server that is down fails every query alike.
func (f *fleet) fetch(ctx context.Context) (fetched, error) {
	type job struct {
		name string
		kind promKind
	}
	var jobs []job
	for _, m := range fleetMetrics {
		name := f.q.promName(m)
		if m.kind == promHistogram {
			jobs = append(jobs, job{name + "_bucket", promCounter}, job{name + "_sum", promCounter}, job{name + "_count", promCounter})
		} else {
			jobs = append(jobs, job{name, m.kind})
		}
	}
	for _, name := range []string{promSchedLatencies, promGCPauses} {
		jobs = append(jobs, job{name + "_bucket", promCounter})
	}
	jobs = append(jobs, job{"target_info", promGauge})

	out := make(fetched, len(jobs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, 4)
	)
	for _, j := range jobs {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			var s []series
			var err error
			if j.kind == promGauge {
				s, err = f.gauge(ctx, j.name)
			} else {
				s, err = f.increase(ctx, j.name)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			out[j.name] = s
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil { // done before a query failed
		first = fmt.Errorf("report: Prometheus %s: %w", f.base, ctx.Err())
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}

// gather turns the query results into the raw data of a report.
func (f *fleet) gather(ctx context.Context) (*rawData, error) {
	res, err := f.fetch(ctx)
	if err != nil {
		return nil, err
	}
	name := func(otel string) string {
		for _, m := range fleetMetrics {
			if m.name == otel {
				return f.q.promName(m)
			}
		}
		return otel
	}
	var (
		lOperation = promLabel(contract.AttrOperation)
		lStatus    = promLabel(contract.AttrStatus)
		lErrorType = promLabel(contract.AttrErrorType)
		lCacheType = promLabel(contract.AttrCacheType)
		lPool      = promLabel(string(keyPoolName))
		lState     = promLabel(string(keyPoolState))
		lDBOp      = promLabel(string(keyDBOperation))
		lErrType   = promLabel(string(keyErrorTypeSC))
		lInstance  = model.LabelName("instance")
	)
	raw := &rawData{start: f.q.Start, source: Source{Kind: SourcePrometheus, Prometheus: f.q.Prometheus, Selector: f.q.Selector}}
	instances := map[string]bool{}

	ops := map[string]*rawOp{}
	op := func(s series) *rawOp {
		n := string(s.labels[lOperation])
		if n == "" {
			return nil
		}
		if inst := string(s.labels[lInstance]); inst != "" {
			instances[inst] = true
		}
		o := ops[n]
		if o == nil {
			o = &rawOp{name: n}
			ops[n] = o
		}
		return o
	}
	for _, s := range res[name(contract.MetricOperations)] {
		if o := op(s); o != nil {
			n := count(s.value)
			o.calls += n
			o.hasCalls = true
			if string(s.labels[lStatus]) == contract.StatusError {
				o.errors += n
			}
		}
	}
	for _, s := range res[name(contract.MetricErrors)] {
		if o := op(s); o != nil && s.labels[lErrorType] != "" {
			if o.errorsByType == nil {
				o.errorsByType = map[string]uint64{}
			}
			o.errorsByType[string(s.labels[lErrorType])] += count(s.value)
		}
	}
	for n, h := range promHistograms(res, name(contract.MetricOperationDuration), lOperation) {
		if n == "" {
			continue
		}
		if o := op(series{labels: model.Metric{lOperation: model.LabelValue(n)}}); o != nil {
			o.hist = h
		}
	}
	raw.ops = opsByName(ops)

	raw.ping = promHistograms(res, name(contract.MetricPingDuration), "")[""]
	errored := promHistograms(res, name(contract.MetricCommandDuration), lDBOp, lErrType)
	for key, h := range promHistograms(res, name(contract.MetricCommandDuration), lDBOp) {
		cmd := key
		if cmd == "" {
			cmd = OtherCommand
		}
		c := raw.command(cmd)
		c.hist = h
		for ek, eh := range errored {
			if db, errType, _ := strings.Cut(ek, "\x00"); db == key && errType != "" {
				c.errors += eh.count
			}
		}
	}
	if sched, ok := promHistograms(res, promSchedLatencies, "")[""]; ok {
		raw.sched, raw.hasRuntime = sched, true
		raw.gcPauses = promHistograms(res, promGCPauses, "")[""]
	}

	sumOf := func(otel string, seen *bool) uint64 {
		var total float64
		for _, s := range res[name(otel)] {
			total += s.value
			*seen = true
		}
		return count(total)
	}
	raw.script.hits = sumOf(contract.MetricScriptCacheHits, &raw.script.seen)
	raw.script.misses = sumOf(contract.MetricScriptCacheMisses, &raw.script.seen)
	raw.script.reloads = sumOf(contract.MetricScriptCacheReloads, &raw.script.seen)
	raw.state.hits = sumOf(contract.MetricStateCacheHits, &raw.state.seen)
	raw.state.misses = sumOf(contract.MetricStateCacheMisses, &raw.state.seen)
	// Warm-up reloads are a process's own business; the fleet counts all.
	raw.reloadsAfterWarmup = raw.script.reloads
	for _, s := range res[name(contract.MetricCacheHitRatio)] {
		switch string(s.labels[lCacheType]) {
		case contract.CacheScript:
			raw.scriptHitRatio, raw.hasScriptRatio = s.value, true
		case contract.CacheState:
			raw.stateHitRatio, raw.hasStateRatio = s.value, true
		}
	}

	key := func(s series) poolKey {
		return poolKey{instance: string(s.labels[lInstance]), name: string(s.labels[lPool])}
	}
	for _, s := range res[name(contract.MetricConnectionStatus)] {
		raw.observeStatus(key(s), string(s.labels[lStatus]), s.value)
	}
	for _, s := range res[name(contract.MetricPoolConnectionCount)] {
		p := raw.pool(key(s))
		switch string(s.labels[lState]) {
		case "used":
			p.used += int64(count(s.value))
		case "idle":
			p.idle += int64(count(s.value))
		}
	}
	for _, s := range res[name(contract.MetricPoolMax)] {
		p := raw.pool(key(s))
		p.max += int64(count(s.value))
		p.hasMax = true
	}
	for otel, add := range map[string]func(p *rawPool, v float64){
		contract.MetricPoolWaits:    func(p *rawPool, v float64) { p.waits += count(v) },
		contract.MetricPoolTimeouts: func(p *rawPool, v float64) { p.timeouts += count(v) },
		contract.MetricPoolHits:     func(p *rawPool, v float64) { p.hits += count(v) },
		contract.MetricPoolMisses:   func(p *rawPool, v float64) { p.misses += count(v) },
		contract.MetricPoolWaitTime: func(p *rawPool, v float64) { p.waitSeconds += v },
		contract.MetricPoolUtilization: func(p *rawPool, v float64) {
			p.utilization, p.hasUtilization = math.Max(p.utilization, v), true
		},
	} {
		for _, s := range res[name(otel)] {
			add(raw.pool(key(s)), s.value)
		}
	}

	raw.routing.fromFleet(res, name)

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
		for _, s := range res[name(contract.MetricOperations)] {
			if j := string(s.labels["job"]); j != "" {
				services[j] = true
			}
		}
	}
	raw.service.Name = strings.Join(sortedKeys(services), ",")
	slices.Sort(versions)
	raw.service.Version = strings.Join(versions, ",")
	raw.source.Instances = sortedKeys(instances)
	return raw, nil
}

// promHistograms sums the increases of a histogram's _bucket, _sum and
// _count series into one explicit histogram per value of the labels by
// (joined with NUL; "" with none), over every other label, instances
// included. Each series' cumulative le buckets become per-bucket counts;
// series with different boundaries are merged onto the union of them.
func promHistograms(res fetched, name string, by ...model.LabelName) map[string]histogram {
	keyOf := func(m model.Metric) string {
		parts := make([]string, 0, len(by))
		for _, l := range by {
			if l != "" {
				parts = append(parts, string(m[l]))
			}
		}
		return strings.Join(parts, "\x00")
	}
	// One histogram per series (all labels but le).
	type one struct {
		key    string
		bounds []float64
		cum    []float64 // cumulative counts at bounds, +Inf last
		sum    float64
		hasSum bool
	}
	per := map[model.Fingerprint]*one{}
	get := func(m model.Metric) *one {
		fp := m.Fingerprint()
		o := per[fp]
		if o == nil {
			o = &one{key: keyOf(m)}
			per[fp] = o
		}
		return o
	}
	type le struct {
		bound float64
		cum   float64
	}
	buckets := map[model.Fingerprint][]le{}
	for _, s := range res[name+"_bucket"] {
		b, err := strconv.ParseFloat(string(s.labels[model.BucketLabel]), 64)
		if err != nil || math.IsNaN(b) {
			continue
		}
		m := s.labels.Clone()
		delete(m, model.BucketLabel)
		get(m)
		buckets[m.Fingerprint()] = append(buckets[m.Fingerprint()], le{b, s.value})
	}
	for _, s := range res[name+"_sum"] {
		o := get(s.labels)
		o.sum, o.hasSum = s.value, true
	}
	out := map[string]histogram{}
	for fp, o := range per {
		les := buckets[fp]
		if len(les) == 0 {
			continue
		}
		slices.SortFunc(les, func(a, b le) int { return cmpFloat(a.bound, b.bound) })
		var bounds []float64
		counts := make([]uint64, 0, len(les)+1)
		var prev float64
		for _, x := range les {
			// A bucket's increase is never below the one before it; the
			// increases of separate series can disagree by a scrape.
			n := count(math.Max(x.cum-prev, 0))
			prev = math.Max(prev, x.cum)
			if math.IsInf(x.bound, 1) {
				counts = append(counts, n)
				continue
			}
			bounds = append(bounds, x.bound)
			counts = append(counts, n)
		}
		if len(counts) == len(bounds) { // no +Inf bucket
			counts = append(counts, 0)
		}
		h := newExplicit(bounds, counts, o.sum, o.hasSum)
		acc := out[o.key]
		acc.merge(&h)
		out[o.key] = acc
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
