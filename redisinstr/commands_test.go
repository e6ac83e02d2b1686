package redisinstr

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// noIOHook answers every command and pipeline without I/O, so a test or
// benchmark measures the hooks above it and nothing else.
type noIOHook struct{}

func (noIOHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (noIOHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(context.Context, redis.Cmder) error { return nil }
}
func (noIOHook) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(context.Context, []redis.Cmder) error { return nil }
}

func TestCommandHookAllocatesNothing(t *testing.T) {
	c := redistest.Client(t)
	mp, _ := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	h := newCommandHook(inst, c)
	next := func(context.Context, redis.Cmder) error { return nil }
	process := h.ProcessHook(next)
	ctx := context.Background()
	for _, cmd := range []redis.Cmder{
		redis.NewStringCmd(ctx, "get", "k"),
		redis.NewStringCmd(ctx, "GET", "k"),          // upper case: lowered on the stack
		redis.NewStringCmd(ctx, "hypothetical", "k"), // unknown: no db.operation.name
	} {
		_ = process(ctx, cmd) // first use builds the attribute set
		if n := testing.AllocsPerRun(1000, func() { _ = process(ctx, cmd) }); n != 0 {
			t.Errorf("%v: %v allocations per command, want 0", cmd.Args(), n)
		}
	}
	failing := h.ProcessHook(func(context.Context, redis.Cmder) error { return context.DeadlineExceeded })
	cmd := redis.NewStringCmd(ctx, "set", "k", "v")
	_ = failing(ctx, cmd)
	if n := testing.AllocsPerRun(1000, func() { _ = failing(ctx, cmd) }); n != 0 {
		t.Errorf("failing command: %v allocations, want 0", n)
	}
}

func TestCommandMetricsAttributes(t *testing.T) {
	c := redistest.Client(t)
	addr := c.Options().Addr
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()
	ns := redistest.Namespace(t)
	key := "sf:{" + ns + ":workload:svc}"

	if err := c.Set(ctx, key, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Get(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Get(ctx, key+"missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key: %v", err)
	}
	if err := c.Do(ctx, "Echo", "x").Err(); err != nil { // not in the table, mixed case
		t.Fatal(err)
	}
	if err := c.EvalSha(ctx, "0000000000000000000000000000000000000000", []string{key}).Err(); !redis.HasErrorPrefix(err, "NOSCRIPT") {
		t.Fatalf("EVALSHA of an unknown script: %v", err)
	}
	if err := c.HGet(ctx, key, "f").Err(); err == nil { // WRONGTYPE
		t.Fatal("HGET on a string succeeded")
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, key); p.Get(ctx, key); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, key); p.TTL(ctx, key); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, key); return nil }); err != nil {
		t.Fatal(err)
	}

	rm := collect(t, reader)
	const name = "db.client.operation.duration"
	base := append(serverAttrs(addr), semconv.DBSystemNameRedis, semconv.DBNamespace("0"))
	ok := func(op string) []attribute.KeyValue {
		return append(base, semconv.DBOperationName(op))
	}
	// A server reply's code is both error.type and db.response.status_code,
	// as the conventions ask of the db.* instruments.
	replied := func(op, code string) []attribute.KeyValue {
		return append(ok(op), semconv.ErrorTypeKey.String(code), semconv.DBResponseStatusCode(code))
	}
	for _, tc := range []struct {
		attrs []attribute.KeyValue
		count float64
	}{
		{ok("SET"), 1},
		{ok("GET"), 3}, // redis.Nil is an answer, not an error
		{base, 1},      // unknown command: no db.operation.name
		{replied("EVALSHA", "NOSCRIPT"), 1},
		{replied("HGET", "WRONGTYPE"), 1},
		{ok("PIPELINE GET"), 1},
		{ok("PIPELINE"), 1}, // mixed commands
		{ok("MULTI GET"), 1},
	} {
		if got := mustPoint(t, rm, name, tc.attrs...); got != tc.count {
			t.Errorf("%v: %v operations, want %v", tc.attrs, got, tc.count)
		}
	}
	m, _ := findMetric(rm, name)
	if m.Unit != "s" {
		t.Errorf("unit %q, want s", m.Unit)
	}
	// The CLIENT SETINFO handshake of each new connection, which Redis 7.0
	// refuses and go-redis ignores, is not recorded as a failed pipeline.
	if _, n := point(rm, name, append(ok("PIPELINE"), semconv.ErrorTypeKey.String(contract.ErrorOther.String()))...); n != 0 {
		t.Error("a connection handshake was recorded as a failed PIPELINE")
	}
	// GET without error has no error.type at all.
	if _, n := point(rm, name, append(ok("GET"), semconv.ErrorTypeKey.String(contract.ErrorOther.String()))...); n != 0 {
		t.Error("GET recorded with an error type")
	}
}

func TestCommandMetricsOff(t *testing.T) {
	c := redistest.Client(t)
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithCommandMetrics(false), WithProbeInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok := findMetric(collect(t, reader), "db.client.operation.duration"); ok {
		t.Error("db.client.operation.duration exported with WithCommandMetrics(false)")
	}
}

func TestOperationOf(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"get", "k"}, "GET"},
		{[]any{"HGETALL", "k"}, "HGETALL"},
		{[]any{"EvalSha", "sha", 0}, "EVALSHA"},
		{[]any{"a-command-name-longer-than-the-buffer"}, ""},
		{[]any{[]byte("get")}, ""},
		{[]any{"flushall"}, ""},
	} {
		if got := operationNames[operationOf(redis.NewCmd(ctx, tc.args...))]; got != tc.want {
			t.Errorf("operationOf(%v) = %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestServerAttrs(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want []attribute.KeyValue
	}{
		{"10.0.0.1:7000", []attribute.KeyValue{semconv.ServerAddress("10.0.0.1"), semconv.ServerPort(7000)}},
		{"[::1]:6379", []attribute.KeyValue{semconv.ServerAddress("::1"), semconv.ServerPort(6379)}},
		{"/run/redis.sock", []attribute.KeyValue{semconv.ServerAddress("/run/redis.sock")}},
		{"host:port", []attribute.KeyValue{semconv.ServerAddress("host")}},
	} {
		got, want := attribute.NewSet(serverAttrs(tc.addr)...), attribute.NewSet(tc.want...)
		if !got.Equals(&want) {
			t.Errorf("serverAttrs(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// TestFailoverClientServerAddress: a failover client's Options().Addr is a
// placeholder of go-redis ("FailoverClient"), not a server address.
func TestFailoverClientServerAddress(t *testing.T) {
	dead := redistest.StartServer(t)
	sentinel := dead.Addr
	dead.Kill() // no sentinel answers: every command fails, and is recorded
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{sentinel}, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Hour), WithProbeTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("GET without a sentinel succeeded")
	}
	m, ok := findMetric(collect(t, reader), "db.client.operation.duration")
	if !ok {
		t.Fatal("no db.client.operation.duration")
	}
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if v, ok := p.Attributes.Value(semconv.ServerAddressKey); ok {
			t.Errorf("server.address = %q on a failover client", v.Emit())
		}
	}
}
