// Package report turns the executor's live OpenTelemetry metrics into a
// performance report a person can read after a load test or during an
// incident: per-operation throughput, errors and latency quantiles, the
// Redis clients, pools and commands, the routing health, the Go runtime's
// evidence for a slow tail, the slowest calls with links to their traces,
// and suggestions that cite the numbers that fired them.
//
// A [Collector] is a metric reader: attach [Collector.Reader] to the
// MeterProvider next to any other reader. It asks the SDK for base-2
// exponential histograms, so its quantiles stay within one bucket (2.2%)
// of the exact ones, and reads only the scopes of otelexec and redisinstr.
// [Collector.Snapshot] takes a [Snapshot], whose [Snapshot.Report] is the
// cumulative [Report]; [Delta] reports the interval between two;
// [Collector.Window] reports the last minutes, with a timeline.
// [FleetReport] builds the same report from a Prometheus server (command
// cmd/sfreport). A Report renders as JSON ([Report.WriteJSON], schema in
// docs/report.md), text or one self-contained HTML page; [Handler] serves
// all three.
package report
