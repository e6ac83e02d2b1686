package exporters

import (
	"context"
	"errors"
	"log/slog"
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
	// SpansDropped counts spans in batches the collector did not take (an
	// error, the export timeout, the Shutdown deadline), exported as
	// sfotel.exporter.spans.dropped. After Shutdown, SpansQueued -
	// SpansExported - SpansDropped is what the full queue dropped.
	SpansDropped uint64
	// MetricExports and MetricExportsFailed count OTLP metric exports (one
	// per interval or flush) and those the collector did not take. One the
	// reader cancels itself to shut down is in neither: its final export
	// carries the same cumulative data.
	MetricExports       uint64
	MetricExportsFailed uint64
}

type exportStats struct {
	spansQueued, spansExported, spansDropped atomic.Uint64
	metricExports, metricExportsFailed       atomic.Uint64
}

func (s *exportStats) snapshot() Stats {
	return Stats{s.spansQueued.Load(), s.spansExported.Load(), s.spansDropped.Load(), s.metricExports.Load(), s.metricExportsFailed.Load()}
}

// errAbandoned is what an export gets once the Shutdown deadline passed.
var errAbandoned = errors.New("exporters: export abandoned: shutdown deadline passed")

// exportHealth logs the transitions between a collector that takes data and
// one that does not, once each: a person must act on an outage, not read one
// line per batch. It keeps the last error for Shutdown to report.
type exportHealth struct {
	what    string // "span" or "metric"
	logger  *slog.Logger
	failing atomic.Bool
	lastErr atomic.Pointer[error]
}

func (h *exportHealth) report(err error) {
	if err == nil {
		if h.failing.Load() && h.failing.CompareAndSwap(true, false) {
			h.logger.Info("sfotel: OTLP " + h.what + " export recovered")
		}
		return
	}
	h.lastErr.Store(&err)
	if h.failing.CompareAndSwap(false, true) {
		h.logger.Warn("sfotel: OTLP "+h.what+" export failing; data is dropped until the collector answers", "error", err)
	}
}

func (h *exportHealth) err() error {
	if p := h.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// exportUnder runs export with ctx canceled also when abort is done (the
// Shutdown deadline passed), and not at all once it is.
func exportUnder(ctx, abort context.Context, export func(context.Context) error) error {
	if abort.Err() != nil {
		return errAbandoned
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(abort, cancel)() // stop watching abort
	return export(ctx)
}

// spanGuard counts and logs what the OTLP span exporter does, and returns
// nil to the batch processor, which would log every failed batch through
// otel.Handle; ForceFlush and Shutdown report the failures during them.
type spanGuard struct {
	sdktrace.SpanExporter
	stats  *exportStats
	health *exportHealth
	abort  context.Context
}

func (g *spanGuard) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := exportUnder(ctx, g.abort, func(ctx context.Context) error { return g.SpanExporter.ExportSpans(ctx, spans) })
	g.health.report(err)
	if err != nil {
		g.stats.spansDropped.Add(uint64(len(spans)))
	} else {
		g.stats.spansExported.Add(uint64(len(spans)))
	}
	return nil
}

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

func (g *metricGuard) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := exportUnder(ctx, g.abort, func(ctx context.Context) error { return g.Exporter.Export(ctx, rm) })
	if err != nil && errors.Is(ctx.Err(), context.Canceled) && g.abort.Err() == nil {
		return nil // the reader canceled its own export to shut down; its final one carries the same data
	}
	g.stats.metricExports.Add(1)
	if err != nil {
		g.stats.metricExportsFailed.Add(1)
	}
	g.health.report(err)
	return nil
}
