package report

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/statefulroute/sfotel/internal/contract"
)

// exactQuantile is the nearest-rank sample quantile of sorted values.
func exactQuantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// checkQuantiles records values through the collector's reader and checks
// p50, p90 and p99 against the exact sample quantiles.
func checkQuantiles(t *testing.T, values []float64, minScale int32) {
	t.Helper()
	f := newFixture(t)
	for _, v := range values {
		f.duration.Record(t.Context(), v, attrOp(contract.OpGetLinkedPod.String()))
	}
	s := f.take()
	r := s.Report()
	op := r.Operation(contract.OpGetLinkedPod.String())
	if op == nil {
		t.Fatal("no operation in the report")
	}
	if h := *s.raw.hist(contract.MetricOperationDuration, op.Name); h.scale < minScale {
		t.Fatalf("histogram scale %d < %d: too coarse for the values' range", h.scale, minScale)
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for _, c := range []struct {
		q   float64
		got float64
	}{{0.5, op.P50Seconds}, {0.9, op.P90Seconds}, {0.99, op.P99Seconds}} {
		want := exactQuantile(sorted, c.q)
		if e := relErr(c.got, want); e > 0.02 {
			t.Errorf("p%g = %.6g, exact %.6g: relative error %.2f%% > 2%%", c.q*100, c.got, want, e*100)
		} else {
			t.Logf("p%g = %.6g, exact %.6g, relative error %.3f%%", c.q*100, c.got, want, e*100)
		}
	}
	if want := sorted[len(sorted)-1]; math.Abs(op.MaxSeconds-want) > 0.5e-9 { // rounded to the nanosecond
		t.Errorf("max %v, want %v", op.MaxSeconds, want)
	}
}

func TestQuantileAccuracyLognormal(t *testing.T) {
	// Median 500µs, σ = 1.3: 100k samples span about five decades.
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]float64, 100_000)
	for i := range values {
		values[i] = 500e-6 * math.Exp(1.3*rng.NormFloat64())
	}
	lo, hi := slices.Min(values), slices.Max(values)
	if decades := math.Log10(hi / lo); decades < 5 {
		t.Fatalf("sample spans %.1f decades, want ≥ 5", decades)
	}
	checkQuantiles(t, values, 5)
}

func TestQuantileAccuracySevenDecades(t *testing.T) {
	// Log-uniform from 1µs to 10s plus a bimodal bulk: the scale must stay at
	// 5 (2.2% buckets) even when one slow call stretches the range.
	rng := rand.New(rand.NewPCG(3, 4))
	values := make([]float64, 100_000)
	for i := range values {
		switch {
		case i%10 == 0:
			values[i] = math.Pow(10, -6+7*rng.Float64())
		case i%2 == 0:
			values[i] = 200e-6 * math.Exp(0.3*rng.NormFloat64())
		default:
			values[i] = 3e-3 * math.Exp(0.5*rng.NormFloat64())
		}
	}
	checkQuantiles(t, values, 5)
}

func TestQuantileSingleValueIsExact(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpGetLinkedPod.String(), 5, 0.00123)
	op := f.snapshot().Operation(contract.OpGetLinkedPod.String())
	for _, v := range []float64{op.P50Seconds, op.P90Seconds, op.P99Seconds, op.MaxSeconds, op.MeanSeconds} {
		if relErr(v, 0.00123) > 1e-12 {
			t.Fatalf("stats %+v: want every latency 1.23ms", op)
		}
	}
}

func TestHistogramMergeAcrossScales(t *testing.T) {
	// A fine histogram merged into a coarse one lands in the right buckets:
	// every value v sits in bucket ceil(log2(v)·2^scale)−1.
	index := func(v float64, scale int32) int32 {
		return int32(math.Ceil(math.Log2(v)*math.Exp2(float64(scale)))) - 1
	}
	build := func(scale int32, values ...float64) *histogram {
		h := &histogram{scale: scale}
		for _, v := range values {
			h.merge(&histogram{scale: scale, offset: index(v, scale), counts: []uint64{1}, count: 1, sum: v})
		}
		return h
	}
	coarse := build(2, 0.001, 0.003)
	fine := build(6, 0.0011, 0.5, 0.0000071)
	coarse.merge(fine)
	want := build(2, 0.001, 0.003, 0.0011, 0.5, 0.0000071)
	if coarse.scale != want.scale || coarse.offset != want.offset || !slices.Equal(coarse.counts, want.counts) || coarse.count != 5 {
		t.Fatalf("merged %+v, want %+v", coarse, want)
	}
	// And the other way round: the result takes the coarser scale.
	fine = build(6, 0.0011, 0.5, 0.0000071)
	fine.merge(build(2, 0.001, 0.003))
	if fine.scale != 2 || fine.offset != want.offset || !slices.Equal(fine.counts, want.counts) {
		t.Fatalf("merged %+v, want %+v", fine, want)
	}
}

func TestHistogramSub(t *testing.T) {
	prev := &histogram{scale: 3, offset: 10, counts: []uint64{1, 2, 0, 4}, count: 7, sum: 7, min: 1, max: 9, minMax: true}
	cur := &histogram{scale: 3, offset: 8, counts: []uint64{5, 0, 1, 2, 0, 4, 3}, count: 15, sum: 20, min: 0.5, max: 12, minMax: true}
	d := sub(cur, prev)
	if d.count != 8 || d.sum != 13 || d.offset != 8 || !slices.Equal(d.counts, []uint64{5, 0, 0, 0, 0, 0, 3}) {
		t.Fatalf("sub = %+v", d)
	}
	// The interval's max is the top edge of bucket 14, capped by cur's max.
	if want := math.Min(lowerBound(15, 3), 12); d.max != want || d.min != math.Max(lowerBound(8, 3), 0.5) {
		t.Fatalf("min %v max %v", d.min, d.max)
	}
	// A restarted series (fewer values than before) is its own delta.
	restarted := &histogram{scale: 3, offset: 10, counts: []uint64{1}, count: 1, sum: 1}
	if d := sub(restarted, prev); d.count != 1 || !slices.Equal(d.counts, []uint64{1}) {
		t.Fatalf("sub of a restarted series = %+v", d)
	}
	// Coarser cur: prev is downscaled before subtracting.
	coarse := *cur
	coarse.counts = slices.Clone(cur.counts)
	coarse.downscale(1)
	d = sub(&coarse, prev)
	if d.scale != 2 || d.count != 8 {
		t.Fatalf("sub across scales = %+v", d)
	}
	var total uint64
	for _, n := range d.counts {
		total += n
	}
	if total != 8 {
		t.Fatalf("sub across scales keeps %d values in buckets, want 8", total)
	}
}

func TestQuantileAccuracyDiscreteValues(t *testing.T) {
	// Latencies from a coarse timer: 40 distinct values over five decades.
	// Log-space interpolation cannot help inside a bucket holding one
	// value, so the error is bounded by the bucket width alone: 2.2% at
	// scale 5, where the default 160 buckets (scale 3) would allow 9%.
	rng := rand.New(rand.NewPCG(7, 8))
	levels := make([]float64, 40)
	for i := range levels {
		levels[i] = 10e-6 * math.Pow(10, 5*float64(i)/float64(len(levels)))
	}
	values := make([]float64, 100_000)
	for i := range values {
		values[i] = levels[min(int(math.Abs(rng.NormFloat64())*12), len(levels)-1)]
	}
	f := newFixture(t)
	for _, v := range values {
		f.duration.Record(t.Context(), v, attrOp(contract.OpGetLinkedPod.String()))
	}
	s := f.take()
	r := s.Report()
	if h := *s.raw.hist(contract.MetricOperationDuration, contract.OpGetLinkedPod.String()); h.scale < 5 {
		t.Fatalf("scale %d < 5", h.scale)
	}
	op := r.Operation(contract.OpGetLinkedPod.String())
	slices.Sort(values)
	bucket := math.Exp2(1.0/32) - 1
	for _, c := range []struct{ q, got float64 }{{0.5, op.P50Seconds}, {0.9, op.P90Seconds}, {0.99, op.P99Seconds}} {
		if e := relErr(c.got, exactQuantile(values, c.q)); e > bucket {
			t.Errorf("p%g = %.6g, exact %.6g: error %.2f%% > one bucket (%.2f%%)", c.q*100, c.got, exactQuantile(values, c.q), e*100, bucket*100)
		}
	}
}
