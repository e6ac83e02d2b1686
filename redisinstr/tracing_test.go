package redisinstr

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/luascript"
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
		{"on with raw query text", []Option{WithCommandSpans(true), WithRawQueryText(true)}, 1, false, true},
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
			if tc.statement {
				// Sanitized unless asked for raw: no key, no value.
				want := "set ? ? ? ?" // the command as go-redis sends it
				if tc.name == "on with raw query text" {
					want = "set " + key + " secret-value ex 60"
				}
				if got := attribute.NewSet(s.Attributes()...); !got.HasValue("db.query.text") || valueOf(got, "db.query.text") != want {
					t.Errorf("db.query.text = %q, want %q", valueOf(got, "db.query.text"), want)
				}
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

func valueOf(set attribute.Set, key string) string {
	v, _ := set.Value(attribute.Key(key))
	return v.Emit()
}

// TestCommandSpanSemconv: the Redis conventions' names of a script run, a
// transaction and a server's error reply.
func TestCommandSpanSemconv(t *testing.T) {
	ctx := context.Background()
	key := "sf:{" + redistest.Namespace(t) + ":workload:svc}"
	c := redistest.Client(t)
	tp, rec := testTracer(t)
	mp, _ := testMeter(t)
	inst, err := Instrument(c, WithCommandSpans(true), WithTracerProvider(tp), WithMeterProvider(mp), WithProbeInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })

	// One of the executor's scripts: redisinstr names those, and only those.
	script := redis.NewScript(luascript.Source("get_linked_pod_if_persist.lua"))
	if err := script.Load(ctx, c).Err(); err != nil {
		t.Fatal(err)
	}
	links := "sf:{" + redistest.Namespace(t) + ":lk:u}"
	if err := c.EvalSha(ctx, script.Hash(), []string{links, links + "svc"}, "svc").Err(); err != nil {
		t.Fatal(err)
	}
	other := redis.NewScript("return 1")
	if err := other.Run(ctx, c, []string{key}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, key, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HGet(ctx, key, "f").Err(); !redis.HasErrorPrefix(err, "WRONGTYPE") {
		t.Fatalf("HGET on a string: %v", err)
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, key); p.Get(ctx, key); return nil }); err != nil {
		t.Fatal(err)
	}
	spans := map[string]attribute.Set{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = attribute.NewSet(s.Attributes()...)
	}
	for _, tc := range []struct{ span, key, want string }{
		{"EVALSHA get_linked_pod_if_persist", "db.stored_procedure.name", "get_linked_pod_if_persist"},
		{"EVALSHA get_linked_pod_if_persist", "db.operation.name", "EVALSHA"},
		{"EVALSHA", "db.stored_procedure.name", ""}, // not the executor's: unnamed
		{"HGET", "error.type", "WRONGTYPE"},
		{"HGET", "db.response.status_code", "WRONGTYPE"},
		{"MULTI GET", "db.operation.name", "MULTI GET"},
		{"MULTI GET", "db.operation.batch.size", "2"},
	} {
		attrs, ok := spans[tc.span]
		if !ok {
			t.Errorf("no span %q among %v", tc.span, keysOf(spans))
			continue
		}
		if got := valueOf(attrs, tc.key); got != tc.want {
			t.Errorf("span %q: %s = %q, want %q", tc.span, tc.key, got, tc.want)
		}
	}
}

func keysOf(m map[string]attribute.Set) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
