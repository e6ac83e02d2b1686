// Package e2e holds the end-to-end tests: the quickstart's telemetry checked
// in a real Prometheus, a real OpenTelemetry Collector and a real Jaeger;
// the exemplars of the latency buckets followed to their traces in Jaeger;
// and every query of deploy/ (the Grafana dashboard's panels and variables,
// the recording rules, each alert's signal) run against that Prometheus,
// which must return data.
//
// Two quickstarts run as one service, as a fleet of routers would; the
// checks that compare counts with a report select the first one's series
// (its instance label in Prometheus, its service.instance.id at the
// collector), so they stay exact.
//
// The tests are behind the e2e build tag and read the endpoints from the
// environment, so run them through the script that starts everything on
// loopback ports and stops it afterwards:
//
//	bash scripts/e2e.sh      # or: make e2e
//
// The environment the script sets (the tests fail when one is missing):
//
//	SFOTEL_E2E_REPORT          the first quickstart's final JSON report (the expected counts)
//	SFOTEL_E2E_REPORT_2        the second quickstart's final JSON report
//	SFOTEL_E2E_SERVICE         the service name both quickstarts ran as
//	SFOTEL_E2E_QUICKSTART_URL  the first quickstart's HTTP server, still serving /metrics
//	SFOTEL_E2E_QUICKSTART_URL_2  the second quickstart's
//	SFOTEL_E2E_PROMETHEUS_URL  Prometheus, scraping both quickstarts (job
//	                           sfotel-quickstart, one instance each) and the collector
//	SFOTEL_E2E_OTELCOL_METRICS_URL  the collector's Prometheus exporter (/metrics)
//	SFOTEL_E2E_JAEGER_URL      Jaeger's query HTTP endpoint
//	SFOTEL_E2E_COMMAND_SPANS   1 when the quickstart ran with -command-spans
package e2e
