package exporters

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Stats counts what the OTLP exporters of a Telemetry delivered and lost
// since Setup.
type Stats struct {
	// SpansQueued counts sampled spans handed to the batch processor.
	SpansQueued uint64
	// SpansExported counts spans the collector acknowledged.
	SpansExported uint64
	// SpansDropped counts spans in batches the collector did not take: an
	// error, the export timeout, or the Shutdown deadline. It is exported as
	// sfotel.exporter.spans.dropped. Spans the batch processor drops because
	// its queue is full are not in it (the SDK does not expose that count);
	// after Shutdown, SpansQueued - SpansExported - SpansDropped is exactly
	// that number.
	SpansDropped uint64
	// MetricExports and MetricExportsFailed count OTLP metric exports
	// (one per interval, one per flush) and those the collector did not
	// take. An export the periodic reader cancels itself to shut down is
	// in neither: its final export carries the same cumulative data.
	MetricExports       uint64
	MetricExportsFailed uint64
}

type exportStats struct {
	spansQueued, spansExported, spansDropped atomic.Uint64
	metricExports, metricExportsFailed       atomic.Uint64
}

func (s *exportStats) snapshot() Stats {
	return Stats{
		SpansQueued:         s.spansQueued.Load(),
		SpansExported:       s.spansExported.Load(),
		SpansDropped:        s.spansDropped.Load(),
		MetricExports:       s.metricExports.Load(),
		MetricExportsFailed: s.metricExportsFailed.Load(),
	}
}

// errAbandoned is what an export gets once the Shutdown deadline passed.
var errAbandoned = errors.New("exporters: export abandoned: shutdown deadline passed")

// exportHealth logs the transitions between a collector that takes data and
// one that does not, once each: a person must act on an outage, not read one
// line per batch. It also keeps the last error for Shutdown to report.
type exportHealth struct {
	what    string // "span" or "metric"
	logger  *slog.Logger
	failing atomic.Bool

	mu      sync.Mutex
	lastErr error
}

func (h *exportHealth) failed(err error) {
	h.mu.Lock()
	h.lastErr = err
	h.mu.Unlock()
	if h.failing.CompareAndSwap(false, true) {
		h.logger.Warn("sfotel: OTLP "+h.what+" export failing; data is dropped until the collector answers", "error", err)
	}
}

func (h *exportHealth) succeeded() {
	if h.failing.Load() && h.failing.CompareAndSwap(true, false) {
		h.logger.Info("sfotel: OTLP " + h.what + " export recovered")
	}
}

func (h *exportHealth) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// withAbort returns ctx, canceled also when abort is done.
func withAbort(ctx, abort context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(abort, cancel)
	return ctx, func() { stop(); cancel() }
}

// spanGuard counts and logs what the OTLP span exporter does. It reports
// failures itself and returns nil to the batch processor, which would
// otherwise hand every failed batch to the global error handler (one log
// line per batch during an outage). Telemetry.Shutdown and ForceFlush
// return the failures that happen during them.
type spanGuard struct {
	next   sdktrace.SpanExporter
	stats  *exportStats
	health *exportHealth
	abort  context.Context
}

func (g *spanGuard) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	n := uint64(len(spans))
	if g.abort.Err() != nil {
		g.stats.spansDropped.Add(n)
		g.health.failed(errAbandoned)
		return nil
	}
	ctx, done := withAbort(ctx, g.abort)
	err := g.next.ExportSpans(ctx, spans)
	done()
	if err != nil {
		g.stats.spansDropped.Add(n)
		g.health.failed(err)
		return nil
	}
	g.stats.spansExported.Add(n)
	g.health.succeeded()
	return nil
}

func (g *spanGuard) Shutdown(ctx context.Context) error { return g.next.Shutdown(ctx) }

// countingProcessor counts the sampled spans handed to the batch processor
// (one atomic add per span), so Stats can show what the queue dropped.
type countingProcessor struct {
	sdktrace.SpanProcessor
	queued *atomic.Uint64
}

func (p countingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.queued.Add(1)
	}
	p.SpanProcessor.OnEnd(s)
}

// metricGuard is spanGuard for a periodic reader's metric exporter.
type metricGuard struct {
	sdkmetric.Exporter
	stats  *exportStats
	health *exportHealth
	abort  context.Context
}

func (g *metricGuard) Export(parent context.Context, rm *metricdata.ResourceMetrics) error {
	g.stats.metricExports.Add(1)
	if g.abort.Err() != nil {
		g.stats.metricExportsFailed.Add(1)
		g.health.failed(errAbandoned)
		return nil
	}
	ctx, done := withAbort(parent, g.abort)
	err := g.Exporter.Export(ctx, rm)
	done()
	switch {
	case err == nil:
		g.health.succeeded()
	case errors.Is(parent.Err(), context.Canceled) && g.abort.Err() == nil:
		// The periodic reader canceled its own in-flight export to shut
		// down; its final export carries the same cumulative data, so
		// nothing is lost and there is nothing to report.
		g.stats.metricExports.Add(^uint64(0))
	default:
		g.stats.metricExportsFailed.Add(1)
		g.health.failed(err)
	}
	return nil
}
