package redisinstr

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/redistest"
)

func testTracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func hasAttr(attrs []attribute.KeyValue, key string) bool {
	for _, kv := range attrs {
		if string(kv.Key) == key {
			return true
		}
	}
	return false
}

func TestCommandSpans(t *testing.T) {
	ctx := context.Background()
	key := "sf:{" + redistest.Namespace(t) + ":workload:svc}"
	for _, tc := range []struct {
		name              string
		opts              []Option
		spans             int
		caller, statement bool
	}{
		{"default off", nil, 0, false, false},
		{"on, private by default", []Option{WithCommandSpans(true)}, 1, false, false},
		{"on with caller and query text", []Option{WithCommandSpans(true), WithCallerInfo(true), WithQueryText(true)}, 1, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := redistest.Client(t)
			tp, rec := testTracer(t)
			mp, _ := testMeter(t)
			inst, err := Instrument(c, append(tc.opts, WithTracerProvider(tp), WithMeterProvider(mp), WithProbeInterval(10*time.Millisecond))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = inst.Close() })
			time.Sleep(50 * time.Millisecond) // several probes: they make no spans
			if n := len(rec.Ended()); n != 0 {
				t.Fatalf("%d spans before any command (the prober's PINGs must make none): %s", n, rec.Ended()[0].Name())
			}
			if err := c.Set(ctx, key, "secret-value", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			// A SET that needs a new connection may also trace the
			// connection's handshake (HELLO, CLIENT SETINFO).
			var spans []sdktrace.ReadOnlySpan
			var names []string
			for _, s := range rec.Ended() {
				names = append(names, s.Name())
				if s.Name() == "SET" {
					spans = append(spans, s)
				}
			}
			if len(spans) != tc.spans {
				t.Fatalf("%d set spans for one SET (all spans: %v), want %d", len(spans), names, tc.spans)
			}
			if tc.spans == 0 {
				return
			}
			s := spans[0]
			if s.SpanKind() != trace.SpanKindClient {
				t.Errorf("span kind %v, want client", s.SpanKind())
			}
			for _, key := range []string{"db.system.name", "db.operation.name", "db.namespace", "server.address", "server.port"} {
				if !hasAttr(s.Attributes(), key) {
					t.Errorf("span lacks %s", key)
				}
			}
			if hasAttr(s.Attributes(), "db.system") {
				t.Error("span carries db.system, the old semconv name")
			}
			if got := hasAttr(s.Attributes(), "code.function.name"); got != tc.caller {
				t.Errorf("code.function.name present = %v, want %v", got, tc.caller)
			}
			if got := hasAttr(s.Attributes(), "db.query.text"); got != tc.statement {
				t.Errorf("db.query.text present = %v, want %v", got, tc.statement)
			}

			if err := inst.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Get(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
			if n := len(rec.Ended()); n != len(names) {
				t.Errorf("%d spans after a GET past Close, want still %d", n, len(names))
			}
		})
	}
}
