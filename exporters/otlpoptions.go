package exporters

import (
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
)

// otlpOptions holds one upstream exporter package's option constructors.
// The four packages have the same options under different types, so one
// build turns a plan into the option list of any of them.
type otlpOptions[O any] struct {
	retry    func(retryConfig) O
	endpoint func(string) O
	urlPath  func(string) O // HTTP only: the signal's path under the endpoint's
	path     string         // "/v1/traces" or "/v1/metrics", with urlPath
	insecure func() O
	headers  func(map[string]string) O
	timeout  func(time.Duration) O
	gzip     func() O
}

// retryConfig has the fields of every upstream RetryConfig, in their order,
// so it converts to each of them.
type retryConfig struct {
	Enabled         bool
	InitialInterval time.Duration
	MaxInterval     time.Duration
	MaxElapsedTime  time.Duration
}

// build lists the options for p: retries always, the rest only where p sets
// them, so the upstream package's environment handling fills the gaps.
func (b otlpOptions[O]) build(p otlpPlan) []O {
	o := []O{b.retry(retryConfig{Enabled: true, InitialInterval: retryInitial, MaxInterval: retryMax, MaxElapsedTime: p.maxElapsed()})}
	if p.target != nil {
		o = append(o, b.endpoint(p.target.hostPort))
		if b.urlPath != nil {
			o = append(o, b.urlPath(p.target.path+b.path))
		}
	}
	if p.insecure {
		o = append(o, b.insecure())
	}
	if p.headers != nil {
		o = append(o, b.headers(p.headers))
	}
	if p.timeout > 0 {
		o = append(o, b.timeout(p.timeout))
	}
	if p.gzip {
		o = append(o, b.gzip())
	}
	return o
}

var (
	traceGRPCOptions = otlpOptions[otlptracegrpc.Option]{
		retry:    func(c retryConfig) otlptracegrpc.Option { return otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(c)) },
		endpoint: otlptracegrpc.WithEndpoint,
		insecure: otlptracegrpc.WithInsecure,
		headers:  otlptracegrpc.WithHeaders,
		timeout:  otlptracegrpc.WithTimeout,
		gzip:     func() otlptracegrpc.Option { return otlptracegrpc.WithCompressor("gzip") },
	}
	traceHTTPOptions = otlpOptions[otlptracehttp.Option]{
		retry:    func(c retryConfig) otlptracehttp.Option { return otlptracehttp.WithRetry(otlptracehttp.RetryConfig(c)) },
		endpoint: otlptracehttp.WithEndpoint,
		urlPath:  otlptracehttp.WithURLPath,
		path:     "/v1/traces",
		insecure: otlptracehttp.WithInsecure,
		headers:  otlptracehttp.WithHeaders,
		timeout:  otlptracehttp.WithTimeout,
		gzip:     func() otlptracehttp.Option { return otlptracehttp.WithCompression(otlptracehttp.GzipCompression) },
	}
	metricGRPCOptions = otlpOptions[otlpmetricgrpc.Option]{
		retry: func(c retryConfig) otlpmetricgrpc.Option {
			return otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig(c))
		},
		endpoint: otlpmetricgrpc.WithEndpoint,
		insecure: otlpmetricgrpc.WithInsecure,
		headers:  otlpmetricgrpc.WithHeaders,
		timeout:  otlpmetricgrpc.WithTimeout,
		gzip:     func() otlpmetricgrpc.Option { return otlpmetricgrpc.WithCompressor("gzip") },
	}
	metricHTTPOptions = otlpOptions[otlpmetrichttp.Option]{
		retry: func(c retryConfig) otlpmetrichttp.Option {
			return otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig(c))
		},
		endpoint: otlpmetrichttp.WithEndpoint,
		urlPath:  otlpmetrichttp.WithURLPath,
		path:     "/v1/metrics",
		insecure: otlpmetrichttp.WithInsecure,
		headers:  otlpmetrichttp.WithHeaders,
		timeout:  otlpmetrichttp.WithTimeout,
		gzip:     func() otlpmetrichttp.Option { return otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression) },
	}
)
