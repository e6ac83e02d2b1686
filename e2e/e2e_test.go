//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Prometheus names of the dashboard contract (docs/telemetry.md).
const (
	promOperations     = "stateful_executor_operations_total"
	promDurationBucket = "stateful_executor_operation_duration_seconds_bucket"
	promDurationCount  = "stateful_executor_operation_duration_seconds_count"
	quickstartJob      = "sfotel-quickstart" // job_name in examples/collector/prometheus.yml
)

// waitFor bounds every poll. Prometheus needs about 6 s for the first sample
// to become queryable; the OTLP path adds an export interval and a batch.
const waitFor = 90 * time.Second

// report is the part of the quickstart's JSON report the checks compare.
type report struct {
	SchemaVersion any `json:"schema_version"`
	Service       struct {
		Name string `json:"name"`
	} `json:"service"`
	Operations []struct {
		Name   string `json:"name"`
		Count  uint64 `json:"count"`
		Errors uint64 `json:"errors"`
	} `json:"operations"`
}

// expected is per-operation call and error counts.
type expected map[string]struct{ count, errors uint64 }

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run these tests through scripts/e2e.sh (make e2e)", name)
	}
	return v
}

func loadReport(t *testing.T) expected {
	t.Helper()
	path := env(t, "SFOTEL_E2E_REPORT")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the quickstart's report: %v", err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	want := expected{}
	var total uint64
	for _, op := range r.Operations {
		if op.Count == 0 {
			continue
		}
		if !slices.Contains(contract.Operations(), op.Name) {
			t.Errorf("report has an operation %q that is not in the contract", op.Name)
		}
		want[op.Name] = struct{ count, errors uint64 }{op.Count, op.Errors}
		total += op.Count
	}
	// Even on a loaded machine a run of several seconds makes hundreds of
	// calls over most of the simulation's operations; fewer means it did not
	// really run, and every comparison below would prove little.
	if total < 200 || len(want) < 5 {
		t.Fatalf("report %s shows %d calls over %d operations; the quickstart should have made hundreds over at least 5:\n%s", path, total, len(want), b)
	}
	return want
}

// poll calls check until it reports done or waitFor passes, then fails the
// test with what check saw last.
func poll(t *testing.T, what string, check func() (done bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	var saw string
	for {
		var done bool
		done, saw = check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %v; last saw:\n%s", what, waitFor, saw)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(u string, v any) error {
	resp, err := httpClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.500s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %v: %.500s", u, err, body)
	}
	return nil
}

// promVector runs an instant query and returns its samples.
func promVector(base, query string) (model.Vector, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
		Error string `json:"error"`
	}
	if err := getJSON(base+"/api/v1/query?query="+url.QueryEscape(query), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" || resp.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: status %q, result type %q, error %q", query, resp.Status, resp.Data.ResultType, resp.Error)
	}
	var v model.Vector
	return v, json.Unmarshal(resp.Data.Result, &v)
}

// byOperation turns samples into operation → value, with the rest of each
// sample's labels kept for the failure message.
func byOperation(v model.Vector) map[string]float64 {
	m := map[string]float64{}
	for _, s := range v {
		m[string(s.Metric[contract.AttrOperation])] += float64(s.Value)
	}
	return m
}

// diff compares got with want for every operation in want (and operations
// in got that should not be there) and describes each mismatch.
func diff(what string, got map[string]float64, want map[string]uint64) []string {
	var out []string
	for op, w := range want {
		if g := got[op]; g != float64(w) {
			out = append(out, fmt.Sprintf("%s %s: got %v, want %d", what, op, g, w))
		}
	}
	for op, g := range got {
		if _, ok := want[op]; !ok && g != 0 {
			out = append(out, fmt.Sprintf("%s %s: got %v, the report has no calls of it", what, op, g))
		}
	}
	sort.Strings(out)
	return out
}

func (e expected) counts() map[string]uint64 {
	m := map[string]uint64{}
	for op, c := range e {
		m[op] = c.count
	}
	return m
}

func (e expected) errors() map[string]uint64 {
	m := map[string]uint64{}
	for op, c := range e {
		if c.errors > 0 {
			m[op] = c.errors
		}
	}
	return m
}

// TestPrometheusAgreesWithReport: the counts Prometheus scraped from the
// quickstart's /metrics equal the counts in the quickstart's own final report,
// operation by operation, for the counter and for the histogram.
func TestPrometheusAgreesWithReport(t *testing.T) {
	want := loadReport(t)
	prom := env(t, "SFOTEL_E2E_PROMETHEUS_URL")
	// Only the first quickstart's series: the report is its counts.
	sel := firstSelector(t)

	t.Run("operations_total", func(t *testing.T) {
		poll(t, promOperations+" in Prometheus equal to the report", func() (bool, string) {
			v, err := promVector(prom, "sum by (operation) ("+promOperations+sel+")")
			if err != nil {
				return false, err.Error()
			}
			d := diff(promOperations, byOperation(v), want.counts())
			if len(d) > 0 {
				return false, strings.Join(d, "\n")
			}
			// Errors: the status="error" series agree with the report too
			// (none in a healthy run, and then no error series may count any).
			v, err = promVector(prom, "sum by (operation) ("+promOperations+withLabels(sel, `status="error"`)+")")
			if err != nil {
				return false, err.Error()
			}
			d = diff(promOperations+`{status="error"}`, byOperation(v), want.errors())
			return len(d) == 0, strings.Join(d, "\n")
		})
	})

	t.Run("duration_bucket", func(t *testing.T) {
		poll(t, promDurationBucket+` le="+Inf" in Prometheus equal to the report`, func() (bool, string) {
			v, err := promVector(prom, "sum by (operation) ("+promDurationBucket+withLabels(sel, `le="+Inf"`)+")")
			if err != nil {
				return false, err.Error()
			}
			d := diff(promDurationBucket+`{le="+Inf"}`, byOperation(v), want.counts())
			return len(d) == 0, strings.Join(d, "\n")
		})
		// The buckets of each operation are cumulative: non-decreasing in le,
		// ending at the count.
		v, err := promVector(prom, promDurationBucket+sel)
		if err != nil {
			t.Fatal(err)
		}
		buckets := map[string][][2]float64{} // operation → (le, value)
		for _, s := range v {
			le, err := strconv.ParseFloat(string(s.Metric["le"]), 64)
			if err != nil {
				t.Fatalf("bucket with le=%q: %v", s.Metric["le"], err)
			}
			op := string(s.Metric[contract.AttrOperation])
			buckets[op] = append(buckets[op], [2]float64{le, float64(s.Value)})
		}
		for op, w := range want {
			bs := buckets[op]
			if len(bs) < 3 {
				t.Errorf("%s: %d buckets, want a real histogram: %v", op, len(bs), bs)
				continue
			}
			sort.Slice(bs, func(i, j int) bool { return bs[i][0] < bs[j][0] })
			for i := 1; i < len(bs); i++ {
				if bs[i][1] < bs[i-1][1] {
					t.Errorf("%s: bucket le=%v has %v, less than le=%v with %v", op, bs[i][0], bs[i][1], bs[i-1][0], bs[i-1][1])
				}
			}
			if last := bs[len(bs)-1]; !math.IsInf(last[0], 1) || last[1] != float64(w.count) {
				t.Errorf("%s: last bucket %v, want le=+Inf with %d", op, last, w.count)
			}
			// Redis answers in well under a millisecond to a few; boundaries
			// that start at 5 (the SDK's millisecond-minded default) would put
			// every call in the first bucket.
			if bs[0][0] > 0.001 {
				t.Errorf("%s: smallest bucket boundary %v s; a Redis latency histogram needs sub-millisecond buckets", op, bs[0][0])
			}
			// Real Redis answers in well under a second; if nearly nothing
			// landed below 1 s the unit is wrong (milliseconds recorded as seconds).
			for _, b := range bs {
				if b[0] == 1 && b[1] < 0.99*float64(w.count) {
					t.Errorf("%s: only %v of %d calls at or below 1 s: wrong unit?", op, b[1], w.count)
				}
			}
		}
	})
}

// TestCollectorReceivedOTLPMetrics: the same counts arrived over OTLP at the
// collector and come out of its Prometheus exporter.
func TestCollectorReceivedOTLPMetrics(t *testing.T) {
	want := loadReport(t)
	metricsURL := env(t, "SFOTEL_E2E_OTELCOL_METRICS_URL")
	service := env(t, "SFOTEL_E2E_SERVICE")
	// The exporter names the sender's service.instance.id in instance; only
	// the first quickstart's series count.
	instanceID := firstInstanceID(t)

	poll(t, "the collector's Prometheus exporter showing the report's counts", func() (bool, string) {
		fams, err := scrape(metricsURL)
		if err != nil {
			return false, err.Error()
		}
		ops, ok := fams[promOperations]
		if !ok {
			return false, fmt.Sprintf("no %s among %d families: %v", promOperations, len(fams), familyNames(fams))
		}
		if ops.GetType() != dto.MetricType_COUNTER {
			return false, fmt.Sprintf("%s has type %v, want counter", promOperations, ops.GetType())
		}
		got := map[string]float64{}
		for _, m := range ops.GetMetric() {
			labels := labelMap(m)
			// The exporter names the sender in job (service.name).
			if labels["job"] != service {
				return false, fmt.Sprintf("%s series with job=%q, want %q: %v", promOperations, labels["job"], service, labels)
			}
			if labels["instance"] != instanceID {
				continue
			}
			got[labels[contract.AttrOperation]] += m.GetCounter().GetValue()
		}
		d := diff("collector "+promOperations, got, want.counts())
		if len(d) > 0 {
			return false, strings.Join(d, "\n")
		}
		hist, ok := fams[strings.TrimSuffix(promDurationCount, "_count")]
		if !ok || hist.GetType() != dto.MetricType_HISTOGRAM {
			return false, fmt.Sprintf("no histogram %s: %v", strings.TrimSuffix(promDurationCount, "_count"), familyNames(fams))
		}
		got = map[string]float64{}
		for _, m := range hist.GetMetric() {
			if labels := labelMap(m); labels["instance"] == instanceID {
				got[labels[contract.AttrOperation]] += float64(m.GetHistogram().GetSampleCount())
			}
		}
		d = diff("collector "+promDurationCount, got, want.counts())
		return len(d) == 0, strings.Join(d, "\n")
	})
}

// firstSelector selects the first quickstart's series of the quickstart job:
// the job scrapes two quickstarts (scripts/e2e.sh), each its own instance.
func firstSelector(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(env(t, "SFOTEL_E2E_QUICKSTART_URL"))
	if err != nil || u.Host == "" {
		t.Fatalf("SFOTEL_E2E_QUICKSTART_URL: %v", err)
	}
	return fmt.Sprintf(`{job=%q,instance=%q}`, quickstartJob, u.Host)
}

// withLabels adds matchers to a {…} selector.
func withLabels(sel, matchers string) string {
	return strings.TrimSuffix(sel, "}") + "," + matchers + "}"
}

// firstInstanceID is the first quickstart's service.instance.id, read from
// the target_info series of its own /metrics.
func firstInstanceID(t *testing.T) string {
	t.Helper()
	fams, err := scrape(env(t, "SFOTEL_E2E_QUICKSTART_URL") + "/metrics")
	if err != nil {
		t.Fatalf("scrape the first quickstart: %v", err)
	}
	for _, m := range fams["target_info"].GetMetric() {
		if id := labelMap(m)["service_instance_id"]; id != "" {
			return id
		}
	}
	t.Fatalf("the first quickstart's target_info has no service_instance_id: %v", fams["target_info"])
	return ""
}

func scrape(u string) (map[string]*dto.MetricFamily, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func familyNames(fams map[string]*dto.MetricFamily) []string {
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Jaeger's HTTP API (/api/traces), the part the checks read.
type jaegerTraces struct {
	Data []struct {
		TraceID string       `json:"traceID"`
		Spans   []jaegerSpan `json:"spans"`
	} `json:"data"`
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func (s jaegerSpan) tag(key string) (string, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value), true
		}
	}
	return "", false
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// TestJaegerHasOperationTraces: the executor's spans went quickstart →
// collector → Jaeger, one client span per operation carrying the database
// attributes and no user id, with the Redis command spans as its children
// when the quickstart ran with -command-spans.
func TestJaegerHasOperationTraces(t *testing.T) {
	want := loadReport(t)
	jaeger := env(t, "SFOTEL_E2E_JAEGER_URL")
	service := env(t, "SFOTEL_E2E_SERVICE")
	commandSpans := os.Getenv("SFOTEL_E2E_COMMAND_SPANS") == "1"

	// The two busiest operations: one plain command, one Lua script.
	for _, op := range []string{contract.OpGetLinkedPod.String(), contract.OpComputeLinkedPod.String()} {
		if want[op].count == 0 {
			t.Fatalf("the report has no %s calls", op)
		}
		t.Run(op, func(t *testing.T) {
			q := url.Values{"service": {service}, "operation": {op}, "limit": {"20"}, "lookback": {"1h"}}
			poll(t, "Jaeger traces of "+op, func() (bool, string) {
				var tr jaegerTraces
				if err := getJSON(jaeger+"/api/traces?"+q.Encode(), &tr); err != nil {
					return false, err.Error()
				}
				if len(tr.Data) == 0 {
					var svcs struct{ Data []string }
					_ = getJSON(jaeger+"/api/services", &svcs)
					return false, fmt.Sprintf("no traces of %s for service %q; services Jaeger knows: %v", op, service, svcs.Data)
				}
				var problems []string
				for _, trace := range tr.Data {
					problems = append(problems, checkTrace(trace.Spans, op, commandSpans)...)
				}
				if len(problems) > 0 {
					return false, fmt.Sprintf("%d traces, problems:\n%s", len(tr.Data), strings.Join(problems, "\n"))
				}
				t.Logf("%d traces of %s, each with its operation span and attributes", len(tr.Data), op)
				return true, ""
			})
		})
	}
}

// checkTrace describes what is wrong with one trace of operation op.
func checkTrace(spans []jaegerSpan, op string, commandSpans bool) []string {
	var problems []string
	var opSpan *jaegerSpan
	for i, s := range spans {
		if s.OperationName == op && s.parent() == "" {
			opSpan = &spans[i]
		}
		// Spans must not carry user ids (the simulated users are user-<n>).
		for _, tag := range s.Tags {
			if strings.Contains(fmt.Sprint(tag.Value), "user-") {
				problems = append(problems, fmt.Sprintf("span %s tag %s=%v carries a user id", s.OperationName, tag.Key, tag.Value))
			}
		}
	}
	if opSpan == nil {
		names := make([]string, 0, len(spans))
		for _, s := range spans {
			names = append(names, s.OperationName)
		}
		return append(problems, fmt.Sprintf("no root span named %s among %v", op, names))
	}
	// The trace shape of docs/design.md: the operation span is the CLIENT
	// span of the Redis call, or INTERNAL above the command spans.
	wantTags := map[string]string{"db.system.name": "redis", "db.operation.name": "", "span.kind": "client", "server.address": "", "server.port": ""}
	if commandSpans {
		wantTags = map[string]string{"span.kind": "internal"}
		if _, ok := opSpan.tag("db.system.name"); ok {
			problems = append(problems, fmt.Sprintf("%s span is internal above command spans and must carry no db.system.name", op))
		}
	}
	for key, value := range wantTags {
		got, ok := opSpan.tag(key)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s span has no %s tag: %+v", op, key, opSpan.Tags))
		case value != "" && got != value:
			problems = append(problems, fmt.Sprintf("%s span has %s=%q, want %q", op, key, got, value))
		}
	}
	if commandSpans {
		var children []string
		for _, s := range spans {
			if s.parent() == opSpan.SpanID {
				children = append(children, s.OperationName)
				if kind, _ := s.tag("span.kind"); kind != "client" {
					problems = append(problems, fmt.Sprintf("command span %s has span.kind %q, want client", s.OperationName, kind))
				}
				if v, _ := s.tag("db.system.name"); v != "redis" {
					problems = append(problems, fmt.Sprintf("command span %s has db.system.name %q, want redis", s.OperationName, v))
				}
			}
		}
		if len(children) == 0 {
			problems = append(problems, fmt.Sprintf("%s span has no Redis command spans as children (-command-spans was on); spans: %d", op, len(spans)))
		}
	}
	return problems
}
