package exporters

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The batch span processor's and periodic reader's variables.
const (
	envBSPScheduleDelay      = "OTEL_BSP_SCHEDULE_DELAY"
	envBSPExportTimeout      = "OTEL_BSP_EXPORT_TIMEOUT"
	envBSPMaxQueueSize       = "OTEL_BSP_MAX_QUEUE_SIZE"
	envBSPMaxExportBatchSize = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
	envMetricExportInterval  = "OTEL_METRIC_EXPORT_INTERVAL"
	envMetricExportTimeout   = "OTEL_METRIC_EXPORT_TIMEOUT"
)

// sdkRange is a variable's default (the specification's) and valid range.
type sdkRange struct{ def, min, max int }

const (
	// maxMillis is the longest time.Duration, in milliseconds.
	maxMillis = math.MaxInt64 / int(time.Millisecond)
	// maxQueue bounds the span queue: the SDK allocates it up front, 16
	// bytes a slot, so 2^20 slots are 16 MiB.
	maxQueue = 1 << 20
)

// sdkSettings are the numeric variables Setup passes on to the SDK's batch
// span processors and periodic reader, as options, once checked: the SDK
// itself takes any integer, and a negative queue or batch size panics it.
// Times are in milliseconds.
var sdkSettings = map[string]sdkRange{
	envBSPScheduleDelay:      {5000, 1, maxMillis},
	envBSPExportTimeout:      {30000, 1, maxMillis},
	envBSPMaxQueueSize:       {2048, 1, maxQueue},
	envBSPMaxExportBatchSize: {512, 1, maxQueue}, // and at most the queue size
	envMetricExportInterval:  {60000, 1, maxMillis},
	envMetricExportTimeout:   {30000, 1, maxMillis},
}

// sdkEnv is the value in force of one of sdkSettings: the variable's when
// it is an integer in range, else the default, with a warning.
func sdkEnv(name string) int {
	r := sdkSettings[name]
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return r.def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < r.min || n > r.max {
		warnEnv(name, v, fmt.Sprintf("is not an integer from %d to %d; the default %d applies", r.min, r.max, r.def))
		return r.def
	}
	return n
}

// batchSpanOptions are the settings of every batch span processor Setup
// builds. A batch larger than the queue is invalid (the specification
// says so); it becomes the default batch, or the queue size if smaller,
// as the SDK does.
func batchSpanOptions() []sdktrace.BatchSpanProcessorOption {
	queue, batch := sdkEnv(envBSPMaxQueueSize), sdkEnv(envBSPMaxExportBatchSize)
	if batch > queue {
		def := min(sdkSettings[envBSPMaxExportBatchSize].def, queue)
		warnEnv(envBSPMaxExportBatchSize, os.Getenv(envBSPMaxExportBatchSize), fmt.Sprintf("is larger than %s (%d); %d applies", envBSPMaxQueueSize, queue, def))
		batch = def
	}
	return []sdktrace.BatchSpanProcessorOption{
		sdktrace.WithBatchTimeout(time.Duration(sdkEnv(envBSPScheduleDelay)) * time.Millisecond),
		sdktrace.WithExportTimeout(time.Duration(sdkEnv(envBSPExportTimeout)) * time.Millisecond),
		sdktrace.WithMaxQueueSize(queue),
		sdktrace.WithMaxExportBatchSize(batch),
	}
}

// periodicReaderOptions are the OTLP metric reader's settings: interval
// (WithMetricInterval, else the variable) and timeout.
func periodicReaderOptions(interval time.Duration) []sdkmetric.PeriodicReaderOption {
	if interval <= 0 {
		interval = time.Duration(sdkEnv(envMetricExportInterval)) * time.Millisecond
	}
	return []sdkmetric.PeriodicReaderOption{
		sdkmetric.WithInterval(interval),
		sdkmetric.WithTimeout(time.Duration(sdkEnv(envMetricExportTimeout)) * time.Millisecond),
	}
}
