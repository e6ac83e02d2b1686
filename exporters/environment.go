package exporters

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// The general variables Setup reads itself. The OTLP ones are derived in
// otlp.go, the batch span processor's are in sdkenv.go; the SDK reads the
// sampler and periodic reader variables itself.
const (
	envSDKDisabled      = "OTEL_SDK_DISABLED"
	envPropagators      = "OTEL_PROPAGATORS"
	envCardinalityLimit = "OTEL_GO_X_CARDINALITY_LIMIT"
	envExemplarFilter   = "OTEL_METRICS_EXEMPLAR_FILTER"
)

// warnEnv reports an environment value Setup does not use as given, through
// otel.Handle: the specification makes an invalid value a warning and the
// default apply, never a failed start.
func warnEnv(name, value, what string) {
	otel.Handle(fmt.Errorf("sfotel: %s=%q %s", name, value, what))
}

// DefaultCardinalityLimit is the SDK's default cardinality limit, in force
// when neither WithCardinalityLimit nor OTEL_GO_X_CARDINALITY_LIMIT sets one.
const DefaultCardinalityLimit = 2000

// envChoice returns, in lower case, the first of envs that is set to one
// of values in any case, or "". Any other value is a warning and ignored.
func envChoice(values []string, envs ...string) string {
	for _, env := range envs {
		raw := strings.TrimSpace(os.Getenv(env))
		if l := strings.ToLower(raw); slices.Contains(values, l) {
			return l
		} else if raw != "" {
			warnEnv(env, raw, "is not one of "+strings.Join(values, ", ")+"; ignored")
		}
	}
	return ""
}

// propagatorFromEnv builds what OTEL_PROPAGATORS names (in any case, with
// spaces) through autoprop's registry; unset means tracecontext and
// baggage. An unknown name is a warning and left out; when no name is
// known, the default applies.
func propagatorFromEnv() propagation.TextMapPropagator {
	var names []string
	for n := range strings.SplitSeq(os.Getenv(envPropagators), ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			names = append(names, n)
		}
	}
	p, err := autoprop.TextMapPropagator(names...)
	if err != nil {
		warnEnv(envPropagators, os.Getenv(envPropagators), "names a propagator that is not registered; it is left out: "+err.Error())
	}
	if p == nil || len(names) == 0 {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return p
}

// fromAutoexport reads OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER and
// has autoexport (which reads it too) build any exporter but otlp, none and
// prometheus when WithPrometheus serves it: sfotel builds its OTLP exporters itself, because the
// options must override the environment and autoexport's take none. It
// returns the name in force (those three in lower case) and what
// autoexport built. A list of names (which the specification allows and
// autoexport does not) and a name autoexport does not know are warnings
// and ignored, as if unset; autoexport does not export the error for the
// latter, so its text is matched (should it change, Setup fails instead).
func fromAutoexport[T, O any](ctx context.Context, sig signal, create func(context.Context, ...O) (T, error), ownPrometheus bool) (string, T, error) {
	env, zero := sig.exporterEnv(), *new(T)
	name := strings.TrimSpace(os.Getenv(env))
	if l := strings.ToLower(name); l == "" || l == "otlp" || l == "none" || l == "prometheus" && ownPrometheus {
		return l, zero, nil
	}
	if strings.Contains(name, ",") {
		warnEnv(env, os.Getenv(env), "names more than one exporter; a list is not supported (name one), so it is ignored")
		return "", zero, nil
	}
	v, err := create(ctx)
	if err != nil && strings.Contains(err.Error(), "unknown exporter") {
		warnEnv(env, name, "names an unknown exporter; it is ignored")
		return "", zero, nil
	} else if err != nil {
		return "", zero, fmt.Errorf("exporters: %s=%s: %w", env, name, err)
	}
	return name, v, nil
}

// cardinalityLimit is the limit in force: n if > 0, else
// OTEL_GO_X_CARDINALITY_LIMIT's (which the SDK reads too; <= 0 means none,
// reported as 0), else DefaultCardinalityLimit. A non-integer is a
// warning, as the SDK ignores it.
func cardinalityLimit(n int) int {
	v := strings.TrimSpace(os.Getenv(envCardinalityLimit))
	if n > 0 {
		return n
	}
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
