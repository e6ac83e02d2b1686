package exporters

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The general SDK variables Setup reads itself. The exporter variables are
// in otlp.go, the batch processor's and periodic reader's in sdkenv.go; the
// SDK reads the sampler variables itself.
const (
	envSDKDisabled      = "OTEL_SDK_DISABLED"
	envPropagators      = "OTEL_PROPAGATORS"
	envCardinalityLimit = "OTEL_GO_X_CARDINALITY_LIMIT"
	envExemplarFilter   = "OTEL_METRICS_EXEMPLAR_FILTER"
)

// warnEnv reports an environment value Setup does not use as given, through
// the global error handler (otel.Handle, which otel.SetErrorHandler
// replaces): the specification makes an invalid value a warning and the
// default apply, never a failed start.
func warnEnv(name, value, what string) {
	otel.Handle(fmt.Errorf("sfotel: %s=%q %s", name, value, what))
}

// DefaultCardinalityLimit is the most series one instrument keeps per
// collection when neither WithCardinalityLimit nor
// OTEL_GO_X_CARDINALITY_LIMIT sets one: the SDK's default. Series beyond
// it are folded into one with the attribute otel.metric.overflow=true.
const DefaultCardinalityLimit = 2000

// sdkDisabled reads OTEL_SDK_DISABLED as the specification defines a
// boolean: only a case-insensitive "true" is true; a value that is neither
// true nor false is a warning and read as false.
func sdkDisabled() bool {
	v := strings.TrimSpace(os.Getenv(envSDKDisabled))
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case v == "" || strings.EqualFold(v, "false"):
		return false
	}
	warnEnv(envSDKDisabled, v, "is neither true nor false; the SDK stays enabled")
	return false
}

// propagatorFromEnv builds the propagator OTEL_PROPAGATORS names, through
// autoprop's registry (tracecontext, baggage, b3, b3multi, jaeger, xray,
// ottrace, none, and whatever the program registered with
// autoprop.RegisterTextMapPropagator). Unset or empty means tracecontext
// and baggage. As the specification asks of an unknown value, an unknown
// name is a warning and left out; when no name is known, the default applies.
func propagatorFromEnv() propagation.TextMapPropagator {
	def := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	var names []string
	for n := range strings.SplitSeq(os.Getenv(envPropagators), ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return def
	}
	p, err := autoprop.TextMapPropagator(names...)
	if err != nil {
		warnEnv(envPropagators, os.Getenv(envPropagators), "names a propagator that is not registered; it is left out: "+err.Error())
	}
	if p == nil {
		return def
	}
	return p
}

// exporterChoice is what OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER asks
// for.
type exporterChoice int

const (
	choiceUnset      exporterChoice = iota // the variable is unset, empty or ignored
	choiceNone                             // "none": no automatically configured exporter
	choiceOTLP                             // "otlp": sfotel's own OTLP exporter
	choicePrometheus                       // "prometheus" (metrics only)
	choiceOther                            // any other name: autoexport builds it
)

// exporterFromEnv reads sig's exporter variable. sfotel builds "otlp"
// itself, because WithEndpoint and the other OTLP options must override the
// environment and autoexport's OTLP factory takes no options; every other
// name goes to autoexport, which reads the same variable (console, and any
// name registered with autoexport.RegisterSpanExporter or
// RegisterMetricReader). Like autoexport, it takes one name: a
// comma-separated list, which the specification allows but does not
// require, is a warning and ignored, as is an unknown name. autoexport
// matches the other names exactly, as they are registered.
func exporterFromEnv(sig signal) (exporterChoice, string) {
	raw := os.Getenv(sig.kind)
	name := strings.TrimSpace(raw)
	switch strings.ToLower(name) {
	case "":
		return choiceUnset, ""
	case "none":
		return choiceNone, name
	case "otlp":
		return choiceOTLP, name
	case "prometheus":
		if sig == metricsSignal {
			return choicePrometheus, name
		}
	}
	if strings.Contains(name, ",") {
		warnEnv(sig.kind, raw, "names more than one exporter; a list is not supported (name one), so it is ignored")
		return choiceUnset, ""
	}
	return choiceOther, name
}

// unknownToAutoexport reports whether err is autoexport's answer to a name
// it has no factory for. autoexport does not export that error, so its
// text is matched; should it change, an unknown name fails Setup instead
// of being ignored, which is the louder of the two outcomes.
func unknownToAutoexport(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unknown exporter")
}

// otherSpanExporter asks autoexport for the exporter OTEL_TRACES_EXPORTER
// names. nil, nil: the name is unknown (a warning, ignored).
func otherSpanExporter(ctx context.Context, name string) (sdktrace.SpanExporter, error) {
	exp, err := autoexport.NewSpanExporter(ctx)
	if unknownToAutoexport(err) {
		warnEnv(envTracesExporter, name, "names an unknown exporter; it is ignored")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("exporters: %s=%s: %w", envTracesExporter, name, err)
	}
	return exp, nil
}

// otherMetricReader is otherSpanExporter for OTEL_METRICS_EXPORTER.
func otherMetricReader(ctx context.Context, name string) (sdkmetric.Reader, error) {
	r, err := autoexport.NewMetricReader(ctx)
	if unknownToAutoexport(err) {
		warnEnv(envMetricsExporter, name, "names an unknown exporter; it is ignored")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("exporters: %s=%s: %w", envMetricsExporter, name, err)
	}
	return r, nil
}

// cardinalityLimit is the limit the MeterProvider applies: n (from
// WithCardinalityLimit) if > 0, else OTEL_GO_X_CARDINALITY_LIMIT's (which
// the SDK reads too; <= 0 there means no limit, reported as 0), else
// DefaultCardinalityLimit. A variable that is
// not an integer is a warning and ignored, as the SDK ignores it.
func cardinalityLimit(n int) int {
	if n > 0 {
		return n
	}
	v := strings.TrimSpace(os.Getenv(envCardinalityLimit))
	if v == "" {
		return DefaultCardinalityLimit
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		warnEnv(envCardinalityLimit, v, fmt.Sprintf("is not an integer; the default %d applies", DefaultCardinalityLimit))
		return DefaultCardinalityLimit
	}
	return max(n, 0)
}

// checkExemplarFilter warns about an OTEL_METRICS_EXEMPLAR_FILTER the SDK
// would ignore without a word (it reads the known ones in any case).
func checkExemplarFilter() {
	v := strings.TrimSpace(os.Getenv(envExemplarFilter))
	switch strings.ToLower(v) {
	case "", "always_on", "always_off", "trace_based":
		return
	}
	warnEnv(envExemplarFilter, v, "is not always_on, always_off or trace_based; the default trace_based applies")
}
