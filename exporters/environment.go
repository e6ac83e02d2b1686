package exporters

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The general variables Setup reads itself (OTLP's: otlp.go; the batch
// processor's: below). The SDK reads the sampler's and the reader's.
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
// spaces) through autoprop's registry. An unknown name is a warning and left
// out; unset or no known name means tracecontext and baggage.
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

// fromAutoexport reads sig's exporter variable and has autoexport (which
// reads it too) build any exporter but otlp (sfotel's own, so the options
// override the environment), none, and prometheus when WithPrometheus
// serves it. It returns the name in force and what autoexport built. A list
// of names and a name autoexport does not know (matched on its error's
// text, unexported) are warnings and ignored, as if unset.
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
	if n > 0 || v == "" {
		return cmp.Or(n, DefaultCardinalityLimit)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		warnEnv(envCardinalityLimit, v, fmt.Sprintf("is not an integer; the default %d applies", DefaultCardinalityLimit))
		return DefaultCardinalityLimit
	}
	return max(n, 0)
}

// The batch span processor's variables.
const (
	envBSPScheduleDelay      = "OTEL_BSP_SCHEDULE_DELAY"
	envBSPExportTimeout      = "OTEL_BSP_EXPORT_TIMEOUT"
	envBSPMaxQueueSize       = "OTEL_BSP_MAX_QUEUE_SIZE"
	envBSPMaxExportBatchSize = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
)

// sdkRange is a variable's default (the specification's) and largest
// valid value; the smallest is 1.
type sdkRange struct{ def, max int }

// sdkSettings are checked here because the SDK takes any integer for them
// and a negative queue or batch size panics it (the periodic reader checks
// OTEL_METRIC_EXPORT_* itself). Times are in ms; the queue is allocated up
// front, so at most 2^20 slots (16 MiB).
var sdkSettings = map[string]sdkRange{
	envBSPScheduleDelay:      {5000, math.MaxInt64 / int(time.Millisecond)},
	envBSPExportTimeout:      {30000, math.MaxInt64 / int(time.Millisecond)},
	envBSPMaxQueueSize:       {2048, 1 << 20},
	envBSPMaxExportBatchSize: {512, 1 << 20}, // and at most the queue size
}

// sdkEnv is the value in force of one of sdkSettings: the variable's when
// it is an integer in range, else the default, with a warning.
func sdkEnv(name string) int {
	r, v := sdkSettings[name], strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return r.def
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= r.max {
		return n
	}
	warnEnv(name, v, fmt.Sprintf("is not an integer from 1 to %d; the default %d applies", r.max, r.def))
	return r.def
}

// batchSpanOptions are the settings of every batch span processor Setup
// builds. A batch larger than the queue is invalid; it becomes the default
// batch, or the queue size if smaller, as the SDK does.
func batchSpanOptions() []sdktrace.BatchSpanProcessorOption {
	queue, batch := sdkEnv(envBSPMaxQueueSize), sdkEnv(envBSPMaxExportBatchSize)
	if batch > queue {
		batch = min(sdkSettings[envBSPMaxExportBatchSize].def, queue)
		warnEnv(envBSPMaxExportBatchSize, os.Getenv(envBSPMaxExportBatchSize), fmt.Sprintf("is larger than %s (%d); %d applies", envBSPMaxQueueSize, queue, batch))
	}
	return []sdktrace.BatchSpanProcessorOption{
		sdktrace.WithBatchTimeout(time.Duration(sdkEnv(envBSPScheduleDelay)) * time.Millisecond),
		sdktrace.WithExportTimeout(time.Duration(sdkEnv(envBSPExportTimeout)) * time.Millisecond),
		sdktrace.WithMaxQueueSize(queue),
		sdktrace.WithMaxExportBatchSize(batch),
	}
}
