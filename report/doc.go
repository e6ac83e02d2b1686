// Package report turns the executor's live OpenTelemetry metrics into a
// performance report a person can read after a load test or during an
// incident: per-operation throughput, errors and latency quantiles, the
// Redis clients with their pools, connection status and per-command
// latency, the routing health (decisions by outcome, links moved, the pods
// of each service), the Go runtime's evidence for a slow tail, the slowest
// calls with links to their traces, and suggestions that cite the numbers
// that fired them, a slow tail's named cause among them.
//
// A [Collector] is a metric reader: attach [Collector.Reader] to the
// MeterProvider next to any other reader (Prometheus, OTLP). It asks the SDK
// for base-2 exponential histograms for histogram instruments, so its
// quantiles stay within one bucket (2.2%) of the exact sample quantiles, and
// typically within 0.2%, while other readers keep their own aggregation. It
// reads only the instrumentation scopes of otelexec and redisinstr, so
// another library's instruments of the same names are never summed in.
//
// [Collector.Snapshot] takes a [Snapshot], whose [Snapshot.Report] is the
// cumulative [Report]; [Delta] turns two snapshots into an interval report; [Collector.Window] reports the last
// minutes from the snapshots the collector keeps in the background
// ([WithHistory]), with a timeline. [FleetReport] builds the same report for
// every process a Prometheus server scrapes (command cmd/sfreport). A Report
// renders as JSON ([Report.WriteJSON], schema in docs/report.md), aligned
// text ([Report.WriteText]) or one self-contained HTML page
// ([Report.WriteHTML]); [Handler] serves all three over HTTP. A Report is
// output only: the process's SDK and Prometheus both add their points to
// one series store (raw.go), keyed by the instruments of its reads table,
// that the report and its rules are computed from.
package report
