// Package report turns the executor's live OpenTelemetry metrics into a
// performance report a person can read after a load test or during an
// incident: per-operation throughput, errors and latency quantiles, the Redis
// connection pool and script cache, the connection status, and suggestions
// that cite the numbers that fired them.
//
// A [Collector] is a metric reader: attach [Collector.Reader] to the
// MeterProvider next to any other reader (Prometheus, OTLP). It asks the SDK
// for base-2 exponential histograms for histogram instruments, so its
// quantiles stay within one bucket (2.2%) of the exact sample quantiles, and
// typically within 0.2%, while other readers keep their own aggregation. The collector finds the executor's
// instruments by the names of the telemetry contract (package
// internal/contract), whichever meter recorded them.
//
// [Collector.Snapshot] returns a cumulative [Report]; [Delta] turns two
// snapshots into an interval report. A Report renders as JSON
// ([Report.WriteJSON], schema in docs/report.md), aligned text
// ([Report.WriteText]) or one self-contained HTML page ([Report.WriteHTML]);
// [Handler] serves all three over HTTP.
package report
