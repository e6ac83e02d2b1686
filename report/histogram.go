package report

import (
	"math"
	"slices"
	"unsafe"
)

// histogram is a histogram of non-negative durations in seconds. It is
// base-2 exponential (bounds == nil), as the collector asks the SDK: bucket
// i holds values in (base^(offset+i), base^(offset+i+1)], base =
// 2^(2^-scale); or explicit, as Prometheus and runtime/metrics give:
// counts[i] holds values in (bounds[i-1], bounds[i]], the last count those
// above the highest bound (the +Inf bucket).
type histogram struct {
	scale  int32
	offset int32
	counts []uint64
	zero   uint64 // values at or below zero (negative durations count here too)
	count  uint64
	sum    float64
	min    float64
	max    float64
	minMax bool // min and max are known

	bounds []float64 // explicit upper bounds, ascending; nil for exponential
	noSum  bool      // the source has no sum (runtime/metrics): no mean
}

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

// merge adds o into h. Exponential histograms meet at the coarser scale,
// which only joins neighbouring buckets; explicit ones with other bounds on
// the union of both, each bucket whole into the union bucket that ends at
// its own upper bound. One source never mixes the two forms.
func (h *histogram) merge(o *histogram) {
	switch {
	case o.empty():
		return
	case h.empty():
		*h = o.clone()
		return
	case (h.bounds == nil) != (o.bounds == nil):
		return
	case h.bounds == nil:
		c := o.clone() // the finer of the two meets the coarser
		h.downscale(h.scale - c.scale)
		c.downscale(c.scale - h.scale)
		lo, hi := c.offset, c.offset+int32(len(c.counts))
		if len(h.counts) > 0 {
			lo, hi = min(lo, h.offset), max(hi, h.offset+int32(len(h.counts)))
		}
		counts := make([]uint64, hi-lo)
		for _, x := range []*histogram{h, &c} {
			for i, n := range x.counts {
				counts[x.offset-lo+int32(i)] += n
			}
		}
		h.counts, h.offset = counts, lo
		h.zero += o.zero
		h.min, h.max = math.Min(h.min, o.min), math.Max(h.max, o.max)
		h.minMax = h.minMax && o.minMax
	default:
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
		h.noSum = h.noSum || o.noSum
		h.minMax = false
	}
	h.count += o.count
	h.sum += o.sum
}

// downscale lowers the scale by by steps, joining 2^by buckets into one.
func (h *histogram) downscale(by int32) {
	if by <= 0 {
		return
	}
	h.scale -= by
	if len(h.counts) == 0 {
		return
	}
	first := h.offset >> by
	last := (h.offset + int32(len(h.counts)) - 1) >> by
	counts := make([]uint64, last-first+1)
	for i, n := range h.counts {
		counts[((h.offset+int32(i))>>by)-first] += n
	}
	h.counts, h.offset = counts, first
}

// rebucket moves an explicit h onto bounds, a superset of its own.
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

func (h *histogram) empty() bool {
	return h.count == 0 && h.zero == 0 && len(h.counts) == 0
}

// clone is a deep copy of h: the copy shares no counts with it.
func (h *histogram) clone() histogram {
	c := *h
	c.counts = append([]uint64(nil), h.counts...)
	return c
}

// lowerBound is the lower edge of the exponential bucket with the given
// index.
func lowerBound(index, scale int32) float64 {
	return math.Exp2(float64(index) * math.Exp2(-float64(scale)))
}

// eachBucket calls fn with the position in counts, the edges and the count
// of every non-empty bucket, an exponential zero bucket first (position -1,
// edges 0, 0). Explicit buckets start at 0; the last one ends at +Inf.
func (h *histogram) eachBucket(fn func(i int, lo, hi float64, n uint64)) {
	if h.zero > 0 {
		fn(-1, 0, 0, h.zero)
	}
	for i, n := range h.counts {
		switch {
		case n == 0:
		case h.bounds == nil:
			index := h.offset + int32(i)
			fn(i, lowerBound(index, h.scale), lowerBound(index+1, h.scale), n)
		default:
			var lo float64
			if i > 0 {
				lo = math.Max(h.bounds[i-1], 0)
			}
			hi := math.Inf(1)
			if i < len(h.bounds) {
				hi = math.Max(h.bounds[i], lo)
			}
			fn(i, lo, hi, n)
		}
	}
}

// edges are the lower edge of the lowest non-empty bucket and the upper
// edge of the highest (for the +Inf bucket, the highest finite bound): the
// smallest and largest values the buckets allow.
func (h *histogram) edges() (lo, hi float64) {
	first := true
	h.eachBucket(func(_ int, l, u float64, _ uint64) {
		if first {
			lo, first = l, false
		}
		if math.IsInf(u, 1) {
			u = l
		}
		hi = u
	})
	return lo, hi
}

// quantile returns the q-quantile (0 < q ≤ 1), interpolated inside the
// bucket that holds the rank: in log space for exponential buckets, which
// span a fixed ratio, linearly for explicit ones as Prometheus's
// histogram_quantile does; the +Inf bucket gives the highest bound. Clamped
// to the recorded min and max, p100 and single values are exact.
func (h *histogram) quantile(q float64) float64 {
	total := h.zero
	for _, n := range h.counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank, cum, found := q*float64(total), 0.0, false
	var v float64
	h.eachBucket(func(i int, lo, hi float64, n uint64) {
		if found || cum+float64(n) < rank {
			cum += float64(n)
			return
		}
		found = true
		switch {
		case i < 0:
		case h.bounds == nil:
			v = math.Exp2((float64(h.offset+int32(i)) + (rank-cum)/float64(n)) * math.Exp2(-float64(h.scale)))
		case math.IsInf(hi, 1):
			v = lo
		default:
			v = lo + (hi-lo)*(rank-cum)/float64(n)
		}
	})
	if !found {
		_, v = h.edges()
	}
	return h.clamp(v)
}

func (h *histogram) clamp(v float64) float64 {
	if !h.minMax {
		return v
	}
	return math.Min(math.Max(v, h.min), h.max)
}

// maxOrEdge is the recorded max, or the upper edge of the buckets when the
// max is unknown.
func (h *histogram) maxOrEdge() float64 {
	if h.minMax {
		return h.max
	}
	_, hi := h.edges()
	return hi
}

// sub returns cur − prev for two cumulative histograms of one series; with
// fewer values than prev in total or in a bucket, or other bounds, cur
// restarted and is the change. The interval's min and max are the edges of
// the lowest and highest buckets that gained values, capped by cur's.
func sub(cur, prev *histogram) histogram {
	if prev.count == 0 || cur.count < prev.count || cur.zero < prev.zero || (cur.bounds == nil) != (prev.bounds == nil) ||
		(cur.bounds != nil && !slices.Equal(cur.bounds, prev.bounds)) {
		return cur.clone()
	}
	d, p := cur.clone(), prev.clone()
	p.downscale(p.scale - d.scale)
	d.downscale(d.scale - p.scale)
	for i, n := range p.counts {
		j := i + int(p.offset) - int(d.offset)
		if n == 0 {
			continue
		}
		if j < 0 || j >= len(d.counts) || d.counts[j] < n {
			return cur.clone()
		}
		d.counts[j] -= n
	}
	d.zero -= p.zero
	d.count -= p.count
	d.sum = math.Max(d.sum-p.sum, 0)
	d.minMax = d.count > 0 && cur.minMax
	if d.minMax {
		lo, hi := d.edges()
		d.min, d.max = math.Max(lo, cur.min), math.Min(hi, cur.max)
	}
	return d
}

// above returns the share of the values greater than t and an estimate of
// their sum, interpolating inside the bucket that holds t (in log space for
// exponential buckets, linearly for explicit ones, as the quantiles do).
// Values in a bucket are taken at its middle; those in the +Inf bucket at
// its lower edge.
func (h *histogram) above(t float64) (share, sum float64) {
	var total, n float64
	h.eachBucket(func(_ int, lo, hi float64, c uint64) {
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
