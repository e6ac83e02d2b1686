package otelexec

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Stored data sfotel does not write (another writer's) never takes routing
// down: a read passes over it, counts it and logs it once per (namespace,
// service, kind), never saying which key, uid or value it was.

// maxSkipLogged bounds the (namespace, service, kind) triples an executor
// remembers having logged, so that a flood of bad data in many services
// costs bounded memory; past it, skips are only counted.
const maxSkipLogged = 1024

// skipLog remembers which (namespace, service, kind) were logged.
type skipLog struct {
	mu   sync.Mutex
	seen map[skipKey]struct{}
	full bool // the bound was reached, and said so once
}

type skipKey struct {
	namespace, service string
	kind               contract.SkipKind
}

// skipped records that operation id on (namespace, service) passed over n
// stored values of the given kind. service is the operation's argument
// ("" for GetLinkService), never a name read from Redis.
func (e *Executor) skipped(ctx context.Context, id contract.Op, namespace, service string, kind contract.SkipKind, n int) {
	if n <= 0 {
		return
	}
	if ms := e.tel.meters; ms != nil {
		ms.skipped.Add(ctx, int64(n), ms.skipKinds[kind]...)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("sfotel.stored_value.skipped", trace.WithAttributes(
			attribute.String("sfotel.stored_value.kind", kind.String()),
			attribute.Int("sfotel.stored_value.count", n)))
	}
	e.skips.log(ctx, e.logger, id, namespace, service, kind)
}

func (l *skipLog) log(ctx context.Context, logger *slog.Logger, id contract.Op, namespace, service string, kind contract.SkipKind) {
	k := skipKey{namespace, service, kind}
	l.mu.Lock()
	_, seen := l.seen[k]
	first, overflow := !seen && len(l.seen) < maxSkipLogged, false
	switch {
	case first:
		if l.seen == nil {
			l.seen = make(map[skipKey]struct{})
		}
		// Clone: the caller's strings may share memory with larger buffers.
		l.seen[skipKey{strings.Clone(namespace), strings.Clone(service), kind}] = struct{}{}
	case !seen && !l.full:
		l.full, overflow = true, true
	}
	l.mu.Unlock()
	if first {
		logger.LogAttrs(ctx, slog.LevelWarn, "otelexec: skipped stored data that sfotel does not write (another writer stored it); counted in "+contract.MetricStoredSkipped+", logged once per namespace, service and kind",
			slog.String("namespace", namespace), slog.String("service", service),
			slog.String("kind", kind.String()), slog.String("operation", id.String()))
	}
	if overflow {
		logger.LogAttrs(ctx, slog.LevelWarn, "otelexec: skipped stored data in more namespaces and services than are logged; further ones are only counted in "+contract.MetricStoredSkipped,
			slog.Int("logged", maxSkipLogged))
	}
}
