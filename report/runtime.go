package report

import (
	"math"
	"runtime/metrics"
	"slices"
)

// The Go runtime's histograms the tail diagnosis reads. They come from
// runtime/metrics directly, so the report has them in any process, whether
// or not it set up runtime metrics of its own, at the cost of two reads per
// snapshot. Go 1.22 renamed the pause histogram; the old name is the
// fallback.
const (
	runtimeSchedLatencies = "/sched/latencies:seconds"
	runtimeGCPauses       = "/sched/pauses/total/gc:seconds"
	runtimeGCPausesOld    = "/gc/pauses:seconds"
)

// runtimeReader reads the runtime histograms: cumulative since the process
// started; ok is false where the runtime does not have them.
type runtimeReader func() (sched, gcPauses histogram, ok bool)

// goRuntime returns a reader of this process's runtime histograms.
func goRuntime() runtimeReader {
	supported := map[string]bool{}
	for _, d := range metrics.All() {
		supported[d.Name] = d.Kind == metrics.KindFloat64Histogram
	}
	gcName := runtimeGCPauses
	if !supported[gcName] {
		gcName = runtimeGCPausesOld
	}
	if !supported[runtimeSchedLatencies] || !supported[gcName] {
		return func() (histogram, histogram, bool) { return histogram{}, histogram{}, false }
	}
	var bounds [2][]float64 // kept from the first read: the runtime's are fixed
	return func() (histogram, histogram, bool) {
		samples := []metrics.Sample{{Name: runtimeSchedLatencies}, {Name: gcName}}
		metrics.Read(samples)
		var out [2]histogram
		for i := range samples {
			if samples[i].Value.Kind() != metrics.KindFloat64Histogram {
				return histogram{}, histogram{}, false
			}
			out[i] = fromRuntime(samples[i].Value.Float64Histogram(), &bounds[i])
		}
		return out[0], out[1], true
	}
}

// fromRuntime converts a runtime histogram, whose bucket i holds values in
// [Buckets[i], Buckets[i+1]), to an explicit histogram with the same
// buckets. *bounds caches the upper bounds between reads.
func fromRuntime(h *metrics.Float64Histogram, bounds *[]float64) histogram {
	upper := h.Buckets[1:]
	inf := len(upper) > 0 && math.IsInf(upper[len(upper)-1], 1)
	if inf {
		upper = upper[:len(upper)-1]
	}
	if !slices.Equal(*bounds, upper) {
		*bounds = slices.Clone(upper)
	}
	counts := make([]uint64, len(*bounds)+1)
	copy(counts, h.Counts)
	return newExplicit(*bounds, counts, 0, false)
}
