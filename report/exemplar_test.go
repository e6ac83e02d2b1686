package report

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// tracedCall records one call inside a sampled span and returns the span.
func (f *fixture) tracedCall(tp trace.TracerProvider, op string, seconds float64) trace.SpanContext {
	ctx, span := tp.Tracer("test").Start(context.Background(), op)
	defer span.End()
	f.duration.Record(ctx, seconds, attrOp(op))
	f.count(contract.MetricOperations, 1, attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrStatus, contract.StatusOK))
	return span.SpanContext()
}

func TestSlowestCallsFromExemplars(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f := newFixture(t, WithTraceURLTemplate(JaegerTraceURLTemplate))

	// Calls without a sampled trace give no exemplar.
	f.calls(contract.OpGetLinkedPod.String(), 50, 0.5)
	slow := map[string]float64{}
	for i := range 12 {
		sc := f.tracedCall(tp, contract.OpGetLinkedPod.String(), 0.001*float64(i+1))
		slow[sc.TraceID().String()] = 0.001 * float64(i+1)
	}
	r := f.snapshot()
	calls := r.Operation(contract.OpGetLinkedPod.String()).SlowestCalls
	if len(calls) == 0 || len(calls) > slowShown {
		t.Fatalf("%d slowest calls, want 1 to %d: %+v", len(calls), slowShown, calls)
	}
	for i, c := range calls {
		want, ok := slow[c.TraceID]
		if !ok || c.Seconds != want || len(c.SpanID) != 16 {
			t.Fatalf("call %d %+v: not one of the traced calls", i, c)
		}
		if i > 0 && c.Seconds > calls[i-1].Seconds {
			t.Fatalf("calls not slowest first: %+v", calls)
		}
		if c.TraceURL != "http://localhost:16686/trace/"+c.TraceID {
			t.Fatalf("trace URL %q", c.TraceURL)
		}
	}
	// The SDK's reservoir keeps 20 exemplars per series: all 12 made it,
	// and the report shows the five slowest.
	if calls[0].Seconds != 0.012 || len(calls) != slowShown {
		t.Fatalf("slowest %+v, want 12ms first and %d calls", calls, slowShown)
	}

	// An interval report lists only the calls inside it.
	prev := f.take()
	time.Sleep(2 * time.Millisecond)
	later := f.tracedCall(tp, contract.OpGetLinkedPod.String(), 0.0005)
	d := Delta(prev, f.take())
	if dc := d.Operation(contract.OpGetLinkedPod.String()).SlowestCalls; len(dc) != 1 || dc[0].TraceID != later.TraceID().String() {
		t.Fatalf("interval report lists %+v, want only the call made inside it", dc)
	}

	var text, page bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "SLOWEST CALLS") || !strings.Contains(text.String(), calls[0].TraceID) {
		t.Fatalf("text report lacks the slowest calls:\n%s", text.String())
	}
	if !strings.Contains(page.String(), `href="http://localhost:16686/trace/`+calls[0].TraceID+`"`) {
		t.Fatal("page does not link the slowest call to its trace")
	}
}

// Without a template the report does not know where traces go, and links
// none.
func TestSlowestCallsUnlinkedWithoutTemplate(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f := newFixture(t)
	f.tracedCall(tp, contract.OpGetLinkedPod.String(), 0.002)
	c := f.snapshot().Operation(contract.OpGetLinkedPod.String()).SlowestCalls
	if len(c) != 1 || c[0].TraceURL != "" {
		t.Fatalf("calls %+v, want one without a trace URL", c)
	}
}

func TestTraceURLTemplate(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f := newFixture(t, WithTraceURLTemplate("https://grafana.example/explore?trace={trace_id}&span={span_id}"))
	sc := f.tracedCall(tp, contract.OpSetLinkedPod.String(), 0.003)
	c := f.snapshot().Operation(contract.OpSetLinkedPod.String()).SlowestCalls
	want := "https://grafana.example/explore?trace=" + sc.TraceID().String() + "&span=" + sc.SpanID().String()
	if len(c) != 1 || c[0].TraceURL != want {
		t.Fatalf("calls %+v, want trace URL %s", c, want)
	}
	g := newFixture(t, WithTraceURLTemplate("/jaeger/trace/{trace_id}"))
	g.tracedCall(tp, contract.OpSetLinkedPod.String(), 0.003)
	if c := g.snapshot().Operation(contract.OpSetLinkedPod.String()).SlowestCalls; !strings.HasPrefix(c[0].TraceURL, "/jaeger/trace/") {
		t.Fatalf("path template: %+v", c)
	}

	for tmpl, want := range map[string]string{
		"":                                   "has no {trace_id}",
		"http://jaeger:16686/trace/":         "has no {trace_id}",
		"javascript:alert('{trace_id}')":     "must be an http or https URL or a path starting with /",
		"trace/{trace_id}":                   "must be an http or https URL or a path starting with /",
		"http:///trace/{trace_id}":           "has no host",
		"http://jaeger:16686/%zz/{trace_id}": "invalid URL escape",
	} {
		_, err := NewCollector(WithTraceURLTemplate(tmpl))
		if err == nil || !strings.Contains(err.Error(), "report: WithTraceURLTemplate: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("template %q: %v, want an error with %q", tmpl, err, want)
		}
	}
}

func TestWithHistoryValidation(t *testing.T) {
	for _, c := range []struct {
		interval, span time.Duration
		want           string
	}{
		{0, time.Minute, "interval must be ≥ 100ms, got 0s"},
		{10 * time.Millisecond, time.Second, "interval must be ≥ 100ms"},
		{time.Second, -time.Second, "span must be 0 to 10000 whole intervals of 1s, got -1s"},
		{2 * time.Second, 3 * time.Second, "span must be 0 to 10000 whole intervals of 2s, got 3s"},
		{time.Second, 3 * time.Hour, "span must be 0 to 10000 whole intervals"},
	} {
		_, err := NewCollector(WithHistory(c.interval, c.span))
		if err == nil || !strings.Contains(err.Error(), "report: WithHistory: "+c.want) {
			t.Errorf("WithHistory(%v, %v): %v, want %q", c.interval, c.span, err, c.want)
		}
	}
}
