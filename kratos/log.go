package sfkratos

import (
	"cmp"
	"context"
	"log/slog"
	"slices"

	"github.com/go-kratos/kratos/v2/log"
)

// NewSlogLogger returns a *slog.Logger that writes to the Kratos logger l,
// for otelexec.WithLogger (and exporters.WithLogger), so the executor's
// few log lines land where the service's own go:
//
//	exec, err := otelexec.New(rdb, otelexec.WithLogger(sfkratos.NewSlogLogger(logger)))
//
// See NewSlogHandler for how records are translated.
func NewSlogLogger(l log.Logger) *slog.Logger { return slog.New(NewSlogHandler(l)) }

// NewSlogHandler returns a slog.Handler that writes each record to the Kratos
// logger l as Log(level, "msg", message, key, value, ...): the message under
// log.DefaultMessageKey, then the attributes in order, a group's attributes
// under "group.key". Levels map to the nearest Kratos level at or below
// them: below Info is Debug, below Warn is Info, below Error is Warn, Error
// and above are Error. The record's time is left out: a Kratos logger adds
// its own ("ts", log.DefaultTimestamp). The record's context is bound to l
// with log.WithContext, so valuers such as tracing.TraceID() see the span
// of the call that logged.
//
// Every level is enabled: filter with log.NewFilter(l, log.FilterLevel(...))
// as for any other Kratos logger.
func NewSlogHandler(l log.Logger) slog.Handler {
	return &slogHandler{logger: cmp.Or(l, log.GetLogger())}
}

type slogHandler struct {
	logger log.Logger
	attrs  []any  // key, value pairs already flattened by WithAttrs
	group  string // the open group's prefix, "a.b." or ""
}

func (h *slogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *slogHandler) Handle(ctx context.Context, r slog.Record) error {
	kvs := make([]any, 0, 2+len(h.attrs)+2*r.NumAttrs())
	kvs = append(kvs, log.DefaultMessageKey, r.Message)
	kvs = append(kvs, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kvs = appendAttr(kvs, h.group, a)
		return true
	})
	l := h.logger
	if ctx != nil {
		l = log.WithContext(ctx, l)
	}
	return l.Log(kratosLevel(r.Level), kvs...)
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.group, a)
	}
	return &h2
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// appendAttr flattens a into key, value pairs, as slog's text handler does:
// groups become key prefixes, empty attributes and empty groups vanish.
func appendAttr(kvs []any, prefix string, a slog.Attr) []any {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return kvs
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			kvs = appendAttr(kvs, prefix, ga)
		}
		return kvs
	}
	return append(kvs, prefix+a.Key, a.Value.Any())
}

// kratosLevel and slogLevel map between slog's levels, 4 apart, and
// Kratos', 1 apart: Debug -4 and -1, Info 0 and 0, Warn 4 and 1, Error 8
// and 2 (Fatal 3 has no slog name). The shift rounds down: a slog level
// between two is the lower one.
func kratosLevel(l slog.Level) log.Level { return log.Level(min(max(l>>2, -1), 2)) }

func slogLevel(l log.Level) slog.Level {
	return 4 * slog.Level(min(max(l, log.LevelDebug), log.LevelFatal))
}

// LevelFatal is the slog level NewKratosLogger gives Kratos' LevelFatal,
// which slog has no name for: it prints as "ERROR+4".
const LevelFatal = slog.LevelError + 4

// NewKratosLogger returns a Kratos log.Logger that writes to l, the other
// direction of NewSlogHandler: for a service that logs through slog and
// wants Kratos (kratos.Logger, the logging middleware, log.SetLogger) to do
// the same. The value under log.DefaultMessageKey becomes the record's
// message and the other pairs its attributes; Kratos' Debug, Info, Warn,
// Error map to slog's, Fatal to LevelFatal. A nil l means slog.Default().
func NewKratosLogger(l *slog.Logger) log.Logger { return &kratosLogger{logger: l} }

type kratosLogger struct{ logger *slog.Logger }

func (k *kratosLogger) Log(level log.Level, keyvals ...any) error {
	l, lv := cmp.Or(k.logger, slog.Default()), slogLevel(level)
	if !l.Enabled(context.Background(), lv) {
		return nil
	}
	// The first non-empty string under the message key is the message; an
	// unpaired key is passed on alone, and slog shows it as !BADKEY.
	var msg string
	args := make([]any, 0, len(keyvals))
	for i := 0; i < len(keyvals); i += 2 {
		if msg == "" && i+1 < len(keyvals) && keyvals[i] == log.DefaultMessageKey {
			if msg, _ = keyvals[i+1].(string); msg != "" {
				continue
			}
		}
		args = append(args, keyvals[i:min(i+2, len(keyvals))]...)
	}
	l.Log(context.Background(), lv, msg, args...)
	return nil
}
