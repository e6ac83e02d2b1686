package report

import (
	"maps"
	"slices"
	"time"
)

// historyScale is the finest histogram scale the history keeps: buckets of
// 2^(1/16), 4.4%, a quarter of the memory of scale 5 over the same range.
// Reports of a window carry that resolution (docs/report.md).
const historyScale = 4

// historyEntry is one kept snapshot.
type historyEntry struct {
	end  time.Time
	raw  *rawData
	size int // bytes, estimated
}

// history keeps the collector's background snapshots, oldest first, within
// a count (span / interval + 1) and HistoryMaxBytes.
type history struct {
	entries  []historyEntry
	bytes    int
	maxCount int
	maxBytes int
}

func newHistory(cfg *config) *history {
	h := &history{maxBytes: HistoryMaxBytes}
	if cfg.historySpan > 0 {
		h.maxCount = int(cfg.historySpan/cfg.historyInterval) + 1
	}
	return h
}

// add keeps raw as the snapshot that ends at end, with its histograms
// coarsened to historyScale, and drops the oldest entries past the bounds.
func (h *history) add(end time.Time, raw *rawData) {
	if h.maxCount == 0 {
		return
	}
	e := historyEntry{end: end, raw: raw.coarsened(historyScale)}
	e.size = e.raw.sizeBytes()
	h.entries = append(h.entries, e)
	h.bytes += e.size
	for len(h.entries) > 1 && (len(h.entries) > h.maxCount || h.bytes > h.maxBytes) {
		h.bytes -= h.entries[0].size
		h.entries[0] = historyEntry{}
		h.entries = h.entries[1:]
	}
}

// before returns the latest entry that ends at or before t, or the oldest
// entry and false when none does.
func (h *history) before(t time.Time) (historyEntry, bool) {
	for i := len(h.entries) - 1; i >= 0; i-- {
		if !h.entries[i].end.After(t) {
			return h.entries[i], true
		}
	}
	if len(h.entries) == 0 {
		return historyEntry{}, false
	}
	return h.entries[0], false
}

// coarsened is a copy of raw whose exponential histograms are no finer than
// scale, without the slowest calls (the collector keeps them apart).
func (raw *rawData) coarsened(scale int32) *rawData {
	c := raw.each(func(_ string, _ attrs, s *sample) sample { return sample{value: s.value, hist: coarse(&s.hist, scale)} })
	c.slowest = nil
	return c
}

func coarse(h *histogram, scale int32) histogram {
	c := h.clone()
	if c.bounds == nil && c.scale > scale {
		c.downscale(c.scale - scale)
	}
	c.counts = slices.Clip(c.counts)
	return c
}

// timeline turns consecutive snapshots (oldest first) into one point per
// interval and operation.
func timeline(entries []historyEntry, interval time.Duration) *Timeline {
	tl := &Timeline{IntervalSeconds: interval.Seconds(), Operations: []Series{}}
	var series map[string]*Series
	for i := 1; i < len(entries); i++ {
		cur, prev := entries[i], entries[i-1]
		seconds := cur.end.Sub(prev.end).Seconds()
		if seconds <= 0 {
			continue
		}
		d := deltaRaw(prev.raw, cur.raw)
		for _, name := range d.operationNames() {
			st := d.operation(name, seconds)
			s := entry(&series, name)
			s.Name = name
			s.Points = append(s.Points, Point{End: cur.end.UTC(), OpsPerSec: st.OpsPerSec, ErrorRate: st.ErrorRate, P99Seconds: st.P99Seconds})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(series)) {
		tl.Operations = append(tl.Operations, *series[name])
	}
	return tl
}
