package report

import (
	"math"
	"slices"
	"unsafe"
)

// newExplicit returns an explicit-bucket histogram: counts[i] values in
// (bounds[i-1], bounds[i]], counts[len(bounds)] above the highest bound.
// bounds must be ascending and finite; counts must have len(bounds)+1
// entries. It keeps both slices.
func newExplicit(bounds []float64, counts []uint64, sum float64, hasSum bool) histogram {
	h := histogram{bounds: bounds, counts: counts, sum: sum, noSum: !hasSum}
	for _, n := range counts {
		h.count += n
	}
	return h
}

// bucketEdges returns the edges of explicit bucket i. The first bucket
// starts at 0 (durations are not negative); the +Inf bucket's upper edge
// is +Inf.
func (h *histogram) bucketEdges(i int) (lo, hi float64) {
	if i > 0 {
		lo = math.Max(h.bounds[i-1], 0)
	}
	if i < len(h.bounds) {
		hi = math.Max(h.bounds[i], lo)
	} else {
		hi = math.Inf(1)
	}
	return lo, hi
}

// mergeExplicit adds o, also explicit, into h. Histograms with the same
// bounds add bucket by bucket. Otherwise both are put on the union of their
// bounds: each bucket goes whole into the union bucket that ends at its own
// upper bound, so a value is never moved below its bucket.
func (h *histogram) mergeExplicit(o *histogram) {
	if !slices.Equal(h.bounds, o.bounds) {
		union := slices.Concat(h.bounds, o.bounds)
		slices.Sort(union)
		union = slices.Compact(union)
		h.rebucket(union)
		c := o.clone()
		c.rebucket(union)
		o = &c
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.count += o.count
	h.sum += o.sum
	h.noSum = h.noSum || o.noSum
	h.minMax = false
}

// rebucket moves h onto bounds, a superset of its own.
func (h *histogram) rebucket(bounds []float64) {
	counts := make([]uint64, len(bounds)+1)
	for i, n := range h.counts {
		j := len(bounds)
		if i < len(h.bounds) {
			j, _ = slices.BinarySearch(bounds, h.bounds[i])
		}
		counts[j] += n
	}
	h.bounds, h.counts = bounds, counts
}

// explicitQuantile interpolates linearly inside the bucket that holds the
// rank, as Prometheus's histogram_quantile does, so that the two agree on
// the same buckets. A rank in the +Inf bucket returns the highest bound.
func (h *histogram) explicitQuantile(q float64) float64 {
	var total uint64
	for _, n := range h.counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, n := range h.counts {
		if n == 0 {
			continue
		}
		if next := cum + float64(n); next >= rank {
			lo, hi := h.bucketEdges(i)
			if math.IsInf(hi, 1) {
				return h.clamp(lo)
			}
			return h.clamp(lo + (hi-lo)*(rank-cum)/float64(n))
		}
		cum += float64(n)
	}
	return h.clamp(h.explicitUpperEdge())
}

// explicitUpperEdge is the upper edge of the highest non-empty bucket; for
// the +Inf bucket, the highest finite bound.
func (h *histogram) explicitUpperEdge() float64 {
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i] != 0 {
			lo, hi := h.bucketEdges(i)
			if math.IsInf(hi, 1) {
				return lo
			}
			return hi
		}
	}
	return 0
}

// explicitLowerEdge is the lower edge of the lowest non-empty bucket.
func (h *histogram) explicitLowerEdge() float64 {
	for i, n := range h.counts {
		if n != 0 {
			lo, _ := h.bucketEdges(i)
			return lo
		}
	}
	return 0
}

// subExplicit is sub for explicit histograms. Different bounds, or any
// bucket that went down, mean the series restarted: cur is the change.
func subExplicit(cur, prev *histogram) histogram {
	if prev.empty() || cur.bounds == nil || prev.bounds == nil || !slices.Equal(cur.bounds, prev.bounds) || cur.count < prev.count {
		return cur.clone()
	}
	d := cur.clone()
	for i, n := range prev.counts {
		if d.counts[i] < n {
			return cur.clone()
		}
		d.counts[i] -= n
	}
	d.count -= prev.count
	d.sum = math.Max(d.sum-prev.sum, 0)
	d.minMax = false
	return d
}

// eachBucket calls fn with the edges and count of every non-empty bucket,
// the zero bucket of an exponential histogram included (edges 0, 0).
func (h *histogram) eachBucket(fn func(lo, hi float64, n uint64)) {
	if h.zero > 0 {
		fn(0, 0, h.zero)
	}
	for i, n := range h.counts {
		if n == 0 {
			continue
		}
		if h.bounds != nil {
			lo, hi := h.bucketEdges(i)
			fn(lo, hi, n)
			continue
		}
		index := h.offset + int32(i)
		fn(lowerBound(index, h.scale), lowerBound(index+1, h.scale), n)
	}
}

// above returns the share of the values greater than t and an estimate of
// their sum, interpolating inside the bucket that holds t (in log space for
// exponential buckets, linearly for explicit ones, as the quantiles do).
// Values in a bucket are taken at its middle; those in the +Inf bucket at
// its lower edge.
func (h *histogram) above(t float64) (share, sum float64) {
	var total, n float64
	h.eachBucket(func(lo, hi float64, c uint64) {
		total += float64(c)
		if hi <= t {
			return
		}
		f := 1.0 // share of the bucket above t
		from := lo
		if lo < t {
			from = t
			switch {
			case math.IsInf(hi, 1):
			case h.bounds == nil:
				f = math.Log(hi/t) / math.Log(hi/lo)
			default:
				f = (hi - t) / (hi - lo)
			}
		}
		mid := from
		if !math.IsInf(hi, 1) {
			mid = (from + hi) / 2
		}
		n += f * float64(c)
		sum += f * float64(c) * mid
	})
	if total == 0 {
		return 0, 0
	}
	return n / total, sum
}

// sizeBytes is the memory h holds, for the history's budget.
func (h *histogram) sizeBytes() int {
	return int(unsafe.Sizeof(*h)) + 8*cap(h.counts) + 8*cap(h.bounds)
}
