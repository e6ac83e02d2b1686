package report

import "math"

// histogram is a histogram of non-negative durations in seconds, merged
// from every data point of one series group (an operation, a command). It
// has one of two forms:
//
//   - base-2 exponential (bounds == nil), what the collector asks the SDK
//     for: bucket i (index offset+i) holds values in (base^index,
//     base^(index+1)], base = 2^(2^-scale);
//   - explicit (bounds != nil), what Prometheus and runtime/metrics give:
//     counts[i] holds values in (bounds[i-1], bounds[i]], the last count
//     those above the highest bound (the +Inf bucket).
//
// A report keeps it so that Delta can difference two snapshots.
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

// merge adds o into h. Both are brought to the coarser scale first; lowering
// the scale only joins neighbouring buckets, so nothing is lost but resolution.
func (h *histogram) merge(o *histogram) {
	if o.empty() {
		return
	}
	if h.empty() {
		*h = o.clone()
		return
	}
	if (h.bounds == nil) != (o.bounds == nil) {
		return // one source never mixes the two forms
	}
	if h.bounds != nil {
		h.mergeExplicit(o)
		return
	}
	if o.scale < h.scale {
		h.downscale(h.scale - o.scale)
	}
	shift := h.scale - o.scale // ≤ 0: o is at least as fine as h
	for i, n := range o.counts {
		if n == 0 {
			continue
		}
		h.add((o.offset+int32(i))>>(-shift), n)
	}
	h.zero += o.zero
	h.count += o.count
	h.sum += o.sum
	if h.minMax && o.minMax {
		h.min, h.max = math.Min(h.min, o.min), math.Max(h.max, o.max)
	} else {
		h.minMax = false
	}
}

// add puts n values into the bucket with the given index, growing counts.
func (h *histogram) add(index int32, n uint64) {
	if len(h.counts) == 0 {
		h.offset = index
		h.counts = append(h.counts, n)
		return
	}
	if index < h.offset {
		grow := int(h.offset - index)
		counts := make([]uint64, grow+len(h.counts))
		copy(counts[grow:], h.counts)
		h.counts, h.offset = counts, index
	}
	i := int(index - h.offset)
	for i >= len(h.counts) {
		h.counts = append(h.counts, 0)
	}
	h.counts[i] += n
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

func (h *histogram) empty() bool {
	return h.count == 0 && h.zero == 0 && len(h.counts) == 0
}

// clone is a deep copy of h: the copy shares no counts with it.
func (h *histogram) clone() histogram {
	c := *h
	c.counts = append([]uint64(nil), h.counts...)
	return c
}

// lowerBound is the lower edge of the bucket with the given index.
func lowerBound(index, scale int32) float64 {
	return math.Exp2(float64(index) * math.Exp2(-float64(scale)))
}

// quantile returns the q-quantile (0 < q ≤ 1). Inside the bucket that holds
// the rank it interpolates in log space: a bucket spans a fixed ratio, so a
// smooth distribution is close to uniform in log(value) within it. The result
// is clamped to the recorded min and max, which makes p100 and single-value
// histograms exact.
func (h *histogram) quantile(q float64) float64 {
	if h.bounds != nil {
		return h.explicitQuantile(q)
	}
	total := h.zero
	for _, n := range h.counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	cum := float64(h.zero)
	if rank <= cum {
		return h.clamp(0)
	}
	width := math.Exp2(-float64(h.scale))
	for i, n := range h.counts {
		if n == 0 {
			continue
		}
		if next := cum + float64(n); next >= rank {
			f := (rank - cum) / float64(n)
			return h.clamp(math.Exp2((float64(h.offset+int32(i)) + f) * width))
		}
		cum += float64(n)
	}
	return h.clamp(h.upperEdge())
}

func (h *histogram) clamp(v float64) float64 {
	if !h.minMax {
		return v
	}
	return math.Min(math.Max(v, h.min), h.max)
}

// upperEdge is the upper edge of the highest non-empty bucket: the largest
// value the buckets allow, 0 if only the zero bucket holds values.
func (h *histogram) upperEdge() float64 {
	if h.bounds != nil {
		return h.explicitUpperEdge()
	}
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i] != 0 {
			return lowerBound(h.offset+int32(i)+1, h.scale)
		}
	}
	return 0
}

// maxOrEdge is the recorded max, or the upper edge of the buckets when the
// max is unknown.
func (h *histogram) maxOrEdge() float64 {
	if h.minMax {
		return h.max
	}
	return h.upperEdge()
}

// lowerEdge is the lower edge of the lowest non-empty bucket, 0 if the zero
// bucket holds values.
func (h *histogram) lowerEdge() float64 {
	if h.bounds != nil {
		return h.explicitLowerEdge()
	}
	if h.zero > 0 {
		return 0
	}
	for i, n := range h.counts {
		if n != 0 {
			return lowerBound(h.offset+int32(i), h.scale)
		}
	}
	return 0
}

// sub returns cur − prev for two cumulative histograms of one series. If cur
// has fewer values than prev in total or in any bucket, the series restarted
// and cur itself is the change. Min and max of the interval cannot be known
// from cumulative data; they are estimated as the edges of the lowest and
// highest buckets that gained values, capped by cur's lifetime min and max.
func sub(cur, prev *histogram) histogram {
	if cur.bounds != nil || prev.bounds != nil {
		return subExplicit(cur, prev)
	}
	d := histogram{scale: cur.scale, zero: cur.zero, count: cur.count, sum: cur.sum}
	d.counts = append([]uint64(nil), cur.counts...)
	d.offset = cur.offset
	if prev.count == 0 || cur.count < prev.count || cur.zero < prev.zero {
		d.min, d.max, d.minMax = cur.min, cur.max, cur.minMax
		return d
	}
	p := *prev
	p.counts = append([]uint64(nil), prev.counts...)
	if p.scale > d.scale {
		p.downscale(p.scale - d.scale)
	} else if d.scale > p.scale {
		d.downscale(d.scale - p.scale)
	}
	for i, n := range p.counts {
		j := int(p.offset+int32(i)) - int(d.offset)
		if n == 0 {
			continue
		}
		if j < 0 || j >= len(d.counts) || d.counts[j] < n {
			r := *cur
			r.counts = append([]uint64(nil), cur.counts...)
			return r
		}
		d.counts[j] -= n
	}
	d.zero -= p.zero
	d.count -= p.count
	d.sum = math.Max(d.sum-p.sum, 0)
	if d.count > 0 && cur.minMax {
		d.min = math.Max(d.lowerEdge(), cur.min)
		d.max = math.Min(d.upperEdge(), cur.max)
		d.minMax = true
	}
	return d
}
