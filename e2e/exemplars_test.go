//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// promDuration is the latency histogram whose buckets carry exemplars.
const promDuration = "stateful_executor_operation_duration_seconds"

// exemplarTrace is one exemplar: the operation of its series and its trace.
type exemplarTrace struct{ operation, traceID string }

// exemplarTraces asks Prometheus for the exemplars of the latency buckets
// selected by sel and returns them, one per trace.
func exemplarTraces(prom, sel string) ([]exemplarTrace, string) {
	series, err := promExemplars(prom, promDuration+"_bucket"+sel)
	if err != nil {
		return nil, err.Error()
	}
	seen := map[string]bool{}
	var out []exemplarTrace
	for _, s := range series {
		for _, e := range s.Exemplars {
			id := e.Labels["trace_id"]
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, exemplarTrace{s.SeriesLabels["operation"], id})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].traceID < out[j].traceID })
	return out, fmt.Sprintf("%d series with exemplars, %d traces", len(series), len(out))
}

// TestExemplarsLeadToTraces is the click from a latency bucket to its
// trace: Prometheus stored exemplars of the quickstart's latency histogram,
// scraped from the quickstart's own /metrics and from the collector's
// exporter, and every trace ID taken from them is in Jaeger, with the span
// of the operation the bucket belongs to.
func TestExemplarsLeadToTraces(t *testing.T) {
	prom := env(t, "SFOTEL_E2E_PROMETHEUS_URL")
	jaeger := env(t, "SFOTEL_E2E_JAEGER_URL")

	// The dashboard's trace link reads the label the exporters write.
	ds, err := os.ReadFile("../deploy/grafana/provisioning/datasources.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`exemplarTraceIdDestinations:\s+- name: trace_id\b`).Match(ds) {
		t.Errorf("datasources.yml does not link the exemplar label trace_id to the trace data source:\n%s", ds)
	}

	for _, path := range []struct{ name, sel string }{
		{"quickstart /metrics", firstSelector(t)},
		{"collector exporter", `{job="otelcol"}`},
	} {
		t.Run(path.name, func(t *testing.T) {
			var traces []exemplarTrace
			poll(t, "exemplars of "+promDuration+path.sel, func() (bool, string) {
				var saw string
				traces, saw = exemplarTraces(prom, path.sel)
				// Several operations sampled at 5% over a few seconds
				// leave dozens of exemplars; a handful proves little.
				return len(traces) >= 5, saw
			})
			t.Logf("%d traces in the exemplars", len(traces))
			if len(traces) > 10 {
				traces = traces[:10] // enough to prove the link; each is a Jaeger lookup
			}
			for _, ex := range traces {
				poll(t, "trace "+ex.traceID+" in Jaeger", func() (bool, string) {
					var tr jaegerTraces
					if err := getJSON(jaeger+"/api/traces/"+ex.traceID, &tr); err != nil {
						return false, err.Error()
					}
					for _, trace := range tr.Data {
						if !strings.EqualFold(trace.TraceID, ex.traceID) {
							continue
						}
						for _, s := range trace.Spans {
							if s.OperationName == ex.operation {
								return true, ""
							}
						}
						names := make([]string, 0, len(trace.Spans))
						for _, s := range trace.Spans {
							names = append(names, s.OperationName)
						}
						return false, fmt.Sprintf("trace %s has no %s span: %v", ex.traceID, ex.operation, names)
					}
					return false, fmt.Sprintf("Jaeger has no trace %s", ex.traceID)
				})
			}
		})
	}
}
