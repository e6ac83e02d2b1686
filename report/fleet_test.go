package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// TestFleetNamesMatchTheExporter scrapes the exporters package's real
// Prometheus handler after real executor, redisinstr and state-cache
// traffic: every name the fleet report queries is there.
func TestFleetNamesMatchTheExporter(t *testing.T) {
	prom, err := exporters.NewPrometheus(exporters.WithGoCollector(false), exporters.WithProcessCollector(false))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rdb := redistest.Client(t)
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(mp), redisinstr.WithProbeInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	e, err := otelexec.New(rdb, otelexec.WithMeterProvider(mp), otelexec.WithStateCache(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ns := redistest.Namespace(t)
	if _, err := e.SetLinkedPod(t.Context(), ns, "u", "svc", 1, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetLinkedPod(t.Context(), ns, "", "svc"); err == nil {
		t.Fatal("an empty uid was accepted")
	}
	if _, err := e.GetServiceState(t.Context(), ns, "svc"); err != nil {
		t.Fatal(err)
	}
	routingTraffic(t, e, ns)
	time.Sleep(60 * time.Millisecond) // a ping or two
	rec := httptest.NewRecorder()
	prom.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	scrape := rec.Body.String()
	q := FleetQuery{}
	for _, d := range reportInstruments() {
		name := q.promName(d)
		if d.Kind == contract.KindHistogram {
			name += "_bucket"
		}
		if !strings.Contains(scrape, "\n"+name+"{") && !strings.Contains(scrape, "\n"+name+" ") {
			t.Errorf("%s (%s) is not in the exporter's scrape", name, d.Name)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", scrape)
	}
	if name := promNameOf(t, FleetQuery{Namespace: "team"}, contract.MetricOperations); name != "team_stateful_executor_operations_total" {
		t.Fatalf("with a namespace: %s", name)
	}
}

// promNameOf is the Prometheus name of the report's instrument otel.
func promNameOf(t *testing.T, q FleetQuery, otel string) string {
	t.Helper()
	for _, d := range reportInstruments() {
		if d.Name == otel {
			return q.promName(d)
		}
	}
	t.Fatalf("%s is not read by the report", otel)
	return ""
}

func TestFleetQueryValidation(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		q    FleetQuery
		want string
	}{
		{FleetQuery{Start: now.Add(-time.Minute), End: now}, "report: FleetQuery.Prometheus: the server's URL is required"},
		{FleetQuery{Prometheus: "127.0.0.1:9090", Start: now.Add(-time.Minute), End: now}, "report: FleetQuery.Prometheus: \"127.0.0.1:9090\" is not an http or https URL"},
		{FleetQuery{Prometheus: "http://127.0.0.1:9090"}, "report: FleetQuery.Start, End: both are required"},
		{FleetQuery{Prometheus: "http://127.0.0.1:9090", Start: now, End: now.Add(-time.Minute)}, "report: FleetQuery.Start: "},
		{FleetQuery{Prometheus: "http://127.0.0.1:9090", Start: now.Add(-time.Minute), End: now, Selector: `{job="x"}`}, "report: FleetQuery.Selector: "},
	} {
		if _, err := FleetReport(t.Context(), c.q); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.q, err, c.want)
		}
	}
	if _, err := FleetReport(t.Context(), FleetQuery{}, WithTailRatioThreshold(0)); err == nil || !strings.Contains(err.Error(), "WithTailRatioThreshold") {
		t.Fatalf("invalid option: %v", err)
	}
	// A server that answers with an error: the error names the query.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`)
	}))
	defer srv.Close()
	_, err := FleetReport(t.Context(), FleetQuery{Prometheus: srv.URL, Start: now.Add(-time.Minute), End: now, Selector: `job=~"(`})
	if err == nil || !strings.Contains(err.Error(), "report: Prometheus query") || !strings.Contains(err.Error(), "bad_data: parse error") {
		t.Fatalf("server error: %v", err)
	}
}

// fleetProcess is one instrumented "process": its own MeterProvider with
// the real Prometheus exporter and a collector, a Redis client with
// redisinstr and an executor, served on its own loopback listener. restart
// replaces the MeterProvider, as a process restarting on the same address
// would: its counters start again from zero.
type fleetProcess struct {
	t       *testing.T
	srv     *httptest.Server
	handler http.Handler
	prom    *exporters.Prometheus
	mp      *sdkmetric.MeterProvider
	coll    *Collector
	exec    *otelexec.Executor
	inst    *redisinstr.Instrumentation
	rdb     *redis.Client
	before  *Report // the reports of the earlier lives of this process
}

func newFleetProcess(t *testing.T, name string) *fleetProcess {
	p := &fleetProcess{t: t}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }))
	t.Cleanup(p.srv.Close)
	p.start(name)
	t.Cleanup(p.stop)
	return p
}

func (p *fleetProcess) start(name string) {
	t := p.t
	var err error
	p.prom, err = exporters.NewPrometheus(exporters.WithGoCollector(false), exporters.WithProcessCollector(false))
	if err != nil {
		t.Fatal(err)
	}
	if p.coll, err = NewCollector(WithHistory(time.Second, 0)); err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("fleet-test"), semconv.ServiceVersion("1.0.0"))
	p.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.prom), sdkmetric.WithReader(p.coll.Reader()), sdkmetric.WithResource(res))
	p.rdb = redis.NewClient(&redis.Options{Addr: redistest.Addr(t), PoolSize: 8})
	if p.inst, err = redisinstr.Instrument(p.rdb, redisinstr.WithMeterProvider(p.mp), redisinstr.WithProbeInterval(100*time.Millisecond), redisinstr.WithPoolName(name)); err != nil {
		t.Fatal(err)
	}
	if p.exec, err = otelexec.New(p.rdb, otelexec.WithMeterProvider(p.mp)); err != nil {
		t.Fatal(err)
	}
	p.handler = p.prom
}

func (p *fleetProcess) stop() {
	_ = p.exec.Close()
	_ = p.inst.Close()
	_ = p.rdb.Close()
	_ = p.mp.Shutdown(context.Background())
}

// restart keeps the report of the life that ends and starts a new one.
func (p *fleetProcess) restart(name string) {
	p.before = p.own()
	p.stop()
	p.start(name)
}

// own is the report of this process's lives summed: what it counted.
func (p *fleetProcess) own() *Report {
	r := mustSnapshot(p.t, p.coll)
	if p.before == nil {
		return r
	}
	sum := map[string]Operation{}
	for _, rr := range []*Report{p.before, r} {
		for _, op := range rr.Operations {
			s := sum[op.Name]
			s.Name, s.Count, s.Errors = op.Name, s.Count+op.Count, s.Errors+op.Errors
			sum[op.Name] = s
		}
	}
	out := &Report{}
	for _, name := range sortedKeys(sum) {
		out.Operations = append(out.Operations, sum[name])
	}
	return out
}

// load makes n calls of a mix of operations, some of them failing.
func (p *fleetProcess) load(ns string, n int, slow bool) {
	ctx := context.Background()
	for i := range n {
		uid := fmt.Sprintf("u%d", i%50)
		if _, err := p.exec.SetLinkedPod(ctx, ns, uid, "game", i%4, -1); err != nil {
			p.t.Fatal(err)
		}
		if _, err := p.exec.GetLinkedPod(ctx, ns, uid, "game"); err != nil {
			p.t.Fatal(err)
		}
		if i%10 == 0 {
			_, _ = p.exec.GetLinkedPod(ctx, ns, "", "game") // invalid_argument
		}
		if slow && i%20 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func TestFleetReportFromRealPrometheus(t *testing.T) {
	ns := redistest.Namespace(t)
	start := time.Now().Add(-2 * time.Second)
	a, b := newFleetProcess(t, "sessions"), newFleetProcess(t, "sessions")
	promURL := startPrometheus(t, a.srv.URL, b.srv.URL)
	a.load(ns, 300, false)
	b.load(ns, 200, true)
	// a restarts on the same address: Prometheus sees its counters reset.
	waitScraped(t, promURL, a.srv.URL, a.own())
	a.restart("sessions")
	a.load(ns, 120, false)

	want := map[string][2]uint64{} // operation → calls, errors of both processes
	for _, p := range []*fleetProcess{a, b} {
		for _, op := range p.own().Operations {
			w := want[op.Name]
			want[op.Name] = [2]uint64{w[0] + op.Count, w[1] + op.Errors}
		}
	}
	var r *Report
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		r, err = FleetReport(t.Context(), FleetQuery{Prometheus: promURL, Selector: `job="fleet"`, Start: start, End: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][2]uint64{}
		for _, op := range r.Operations {
			got[op.Name] = [2]uint64{op.Count, op.Errors}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet counts %v, want the sum of the processes' own %v", got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Each quantile lies in the explicit bucket that holds the true
	// quantile of all the calls, which lies between the processes' own
	// (themselves within 2.2% of the exact values): docs/report.md.
	lives := []*Report{a.before, mustSnapshot(t, a.coll), mustSnapshot(t, b.coll)}
	f, err := newFleet(FleetQuery{Prometheus: promURL, Selector: `job="fleet"`, Start: start, End: r.Window.End})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.gather(t.Context()) // the buckets behind r
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Operations {
		op := &r.Operations[i]
		bounds := raw.hist(contract.MetricOperationDuration, op.Name).bounds
		for _, q := range []struct {
			name string
			of   func(*Operation) float64
		}{{"p50", func(o *Operation) float64 { return o.P50Seconds }}, {"p90", func(o *Operation) float64 { return o.P90Seconds }}, {"p99", func(o *Operation) float64 { return o.P99Seconds }}} {
			var own []float64
			for _, l := range lives {
				if o := l.Operation(op.Name); o != nil && o.Count > 0 {
					own = append(own, q.of(o))
				}
			}
			lo, hi := fleetQuantileBounds(bounds, own)
			if got := q.of(op); got < lo || got > hi {
				t.Errorf("%s %s: fleet %v outside [%v, %v], from the processes' own %v", op.Name, q.name, got, lo, hi, own)
			}
		}
	}
	if r.Source.Kind != SourcePrometheus || len(r.Source.Instances) != 2 || r.Service.Name != "fleet-test" {
		t.Fatalf("source %+v service %+v", r.Source, r.Service)
	}
	if op := r.Operation(contract.OpGetLinkedPod.String()); op.ErrorsByType[contract.ErrorInvalidArgument.String()] == 0 || op.P50Seconds <= 0 || op.P99Seconds < op.P50Seconds || op.MaxSeconds < op.P99Seconds {
		t.Fatalf("GetLinkedPod %+v", op)
	}
	// One client per instance, each up, each with its pools.
	if len(r.Redis.Clients) != 2 {
		t.Fatalf("clients %+v, want one per instance", r.Redis.Clients)
	}
	for _, c := range r.Redis.Clients {
		if c.Instance == "" || c.Name != "sessions" || c.ConnectionUp == nil || !*c.ConnectionUp || c.Pool.Max == 0 {
			t.Fatalf("client %+v", c)
		}
		if len(c.Pools) != 2 || c.Pools[0].Name != "sessions" || c.Pools[1].Name != "sessions/pipeline" {
			t.Fatalf("client %s on %s: pools %+v, want its command and pipeline pools", c.Name, c.Instance, c.Pools)
		}
	}
	if len(r.Redis.Commands) == 0 || r.Redis.Ping == nil || r.Redis.Ping.Count == 0 {
		t.Fatalf("commands %+v ping %+v", r.Redis.Commands, r.Redis.Ping)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "from Prometheus "+promURL) {
		t.Fatalf("text report:\n%s", text.String())
	}
	t.Logf("\n%s", text.String())
}

// startPrometheus runs the real Prometheus, scraping targets every second
// as job "fleet", and returns its URL. It is stopped, by its PID, when the
// test ends. CI (REDIS_REQUIRED=1) installs Debian's prometheus package, so
// there a missing binary is a failure.
func startPrometheus(t *testing.T, targets ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if redistest.Required() {
			t.Fatal("prometheus not found and REDIS_REQUIRED=1: install Debian's prometheus package")
		}
		t.Skip("prometheus not installed (apt-get install prometheus); set REDIS_REQUIRED=1 to make this a failure")
	}
	dir := t.TempDir()
	var hosts []string
	for _, u := range targets {
		hosts = append(hosts, strconv.Quote(strings.TrimPrefix(u, "http://")))
	}
	config := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fleet\n    static_configs:\n      - targets: [" + strings.Join(hosts, ", ") + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30s: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitScraped waits until Prometheus holds the calls of the target's own
// report: the scrape after the last call.
func waitScraped(t *testing.T, promURL, target string, own *Report) {
	t.Helper()
	var want uint64
	for _, op := range own.Operations {
		want += op.Count
	}
	f, err := newFleet(FleetQuery{Prometheus: promURL, Start: time.Now().Add(-time.Minute), End: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	q := `sum(stateful_executor_operations_total{instance="` + strings.TrimPrefix(target, "http://") + `"})`
	deadline := time.Now().Add(30 * time.Second)
	for {
		vec, err := query[model.Vector](t.Context(), f, q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(vec) == 1 && uint64(vec[0].Value) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Prometheus has %v, want %d calls", q, vec, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustSnapshot(t *testing.T, c *Collector) *Report {
	t.Helper()
	s, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Report()
}

// fleetQuantileBounds is the documented bound of a fleet quantile: from the
// lower edge of the explicit bucket that holds the smallest of the
// processes' own quantiles (less their 2.2%) to the upper edge of the one
// that holds the largest (plus 2.2%).
func fleetQuantileBounds(bounds []float64, own []float64) (lo, hi float64) {
	const ownError = 0.022
	minQ, maxQ := slices.Min(own)*(1-ownError), slices.Max(own)*(1+ownError)
	hi = math.Inf(1)
	for _, b := range bounds {
		if b < minQ {
			lo = b
		}
		if b >= maxQ && math.IsInf(hi, 1) {
			hi = b
		}
	}
	if math.IsInf(hi, 1) && len(bounds) > 0 {
		hi = bounds[len(bounds)-1] // the +Inf bucket reports its lower edge
	}
	return lo, hi
}

// promAnswer is a Prometheus query API on loopback that answers every
// query of the fleet report: series returns, per instance, the samples of
// name for the kind of query ("last" for last_over_time, "resets", "range"
// for the samples in the range, "base" for the value at the start); nil
// finds nothing.
func promAnswer(t *testing.T, series func(kind, name string) map[string][]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, kind, typ := r.FormValue("query"), "base", "vector"
		for prefix, k := range map[string]string{"last_over_time(": "last", "resets(": "resets"} {
			if rest, ok := strings.CutPrefix(q, prefix); ok {
				q, kind = rest, k
			}
		}
		if kind == "base" && strings.HasSuffix(q, "ms]") {
			kind, typ = "range", "matrix"
		}
		name, _, _ := strings.Cut(q, "{")
		var result []string
		for instance, vs := range series(kind, name) {
			labels := fmt.Sprintf(`{"instance":%q,"operation":"GetLinkedPod","status":"ok","db_client_connection_pool_name":"p"}`, instance)
			if typ == "vector" {
				result = append(result, fmt.Sprintf(`{"metric":%s,"value":[1700000000,%q]}`, labels, vs[0]))
				continue
			}
			var points []string
			for i, v := range vs {
				points = append(points, fmt.Sprintf(`[%d,%q]`, 1700000000+i, v))
			}
			result = append(result, fmt.Sprintf(`{"metric":%s,"values":[%s]}`, labels, strings.Join(points, ",")))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":%q,"result":[%s]}}`, typ, strings.Join(result, ","))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFleetReportSkipsNonFiniteSamples: a NaN, infinite or absurd sample
// from Prometheus is left out, named in a warning, and the report renders
// in every format; no count becomes 2^63.
func TestFleetReportSkipsNonFiniteSamples(t *testing.T) {
	ops, wait := promNameOf(t, FleetQuery{}, contract.MetricOperations), promNameOf(t, FleetQuery{}, contract.MetricPoolWaitTime)
	srv := promAnswer(t, func(kind, n string) map[string][]string {
		switch {
		case n == ops && kind == "last":
			return map[string][]string{"a:1": {"+Inf"}, "b:1": {"1e300"}, "c:1": {"42"}, "d:1": {"NaN"}, "e:1": {"9.1e15"}, "f:1": {"5"}, "g:1": {"2"}}
		case n == ops && kind == "resets": // read sample by sample
			return map[string][]string{"f:1": {"1"}, "g:1": {"1"}}
		case n == ops && kind == "range":
			return map[string][]string{"f:1": {"3", "NaN", "5"}, "g:1": {"4", "2"}}
		case n == wait && kind == "last":
			return map[string][]string{"a:1": {"NaN"}, "c:1": {"1.5"}}
		}
		return nil
	})
	now := time.Now()
	r, err := FleetReport(t.Context(), FleetQuery{Prometheus: srv.URL, Start: now.Add(-time.Minute), End: now})
	if err != nil {
		t.Fatal(err)
	}
	for format, write := range map[string]func(io.Writer) error{"json": r.WriteJSON, "text": r.WriteText, "html": r.WriteHTML} {
		if err := write(io.Discard); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
	// 42, and 4 + 2 of a series that restarted.
	if o := r.Operation(contract.OpGetLinkedPod.String()); o == nil || o.Count != 48 {
		t.Errorf("operation %+v, want the 48 calls of the usable series", o)
	}
	if got := r.Redis.Pool.WaitSeconds; got != 1.5 {
		t.Errorf("wait seconds %v, want 1.5", got)
	}
	if len(r.Warnings) != 6 {
		t.Fatalf("warnings %q, want one per series left out", r.Warnings)
	}
	for _, want := range []string{ops + `{db_client_connection_pool_name="p", instance="a:1"`, `instance="b:1"`, `instance="d:1"`, `instance="e:1"`, `instance="f:1"`, wait + `{db_client_connection_pool_name="p", instance="a:1"`} {
		if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("warnings %q do not name %s", r.Warnings, want)
		}
	}
}

// TestFleetReadsTheGoRuntime: from the exporter's Go collector, the fleet
// report has the scheduling latencies and the collector's work a process's
// own report reads, so gc_pressure and the tail's CPU cause can be judged.
func TestFleetReadsTheGoRuntime(t *testing.T) {
	prom, err := exporters.NewPrometheus(exporters.WithProcessCollector(false))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	srv := httptest.NewServer(prom)
	t.Cleanup(srv.Close)
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	start := time.Now()
	promURL := startPrometheus(t, srv.URL)
	var sink [][]byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		for range 1000 { // garbage: collections in the range
			sink = append(sink[:0], make([]byte, 64<<10))
		}
		r, err := FleetReport(t.Context(), FleetQuery{Prometheus: promURL, Selector: `job="fleet"`, Start: start, End: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if rt := r.Runtime; rt != nil && rt.GC != nil && rt.GC.Cycles > 0 && rt.SchedulingLatency.Count > 0 {
			if rt.GC.GOGC != uint64(gogc) || rt.GC.CPUShare <= 0 || rt.GC.CPUShare >= 1 || rt.GC.LiveHeapBytes == 0 {
				t.Fatalf("GC %+v", *rt.GC)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no runtime evidence in the fleet report after 60s: %+v", r.Runtime)
		}
		time.Sleep(500 * time.Millisecond)
	}
	_ = sink
}
