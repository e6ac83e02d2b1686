package exporters

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

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
// OTEL_METRIC_EXPORT_* itself). Times are in milliseconds; the queue is
// allocated up front, 16 bytes a slot, so 2^20 slots are 16 MiB.
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
// builds. A batch larger than the queue is invalid (the specification says
// so); it becomes the default batch, or the queue size if smaller, as the
// SDK does.
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
