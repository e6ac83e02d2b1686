package report

import (
	"cmp"
	"time"
)

// Snapshot is a collector's cumulative data at one moment
// (Collector.Snapshot): what its reports are computed from. Its Report is
// the cumulative report; Delta makes the report of the interval between
// two.
type Snapshot struct {
	raw        *rawData
	start, end time.Time
	cfg        *config
}

// Report returns the cumulative report of s: its window starts when the
// first instrument started recording and ends at the snapshot.
func (s *Snapshot) Report() *Report {
	return build(cmp.Or(s.raw, &rawData{}), s.start, s.end, cmp.Or(s.cfg, defaultConfig()))
}

// Delta returns the report of the interval between two snapshots of the same
// collector, from prev's end to cur's end, with cur's thresholds: counts
// and histogram buckets are differenced (a series that went down
// restarted and counts from zero), gauges and statuses are cur's, max is
// the upper edge of the highest bucket that gained values, capped by cur's
// max, and the slowest calls are cur's inside the interval
// (docs/report.md). A nil prev returns cur's cumulative report; a nil cur,
// nil.
func Delta(prev, cur *Snapshot) *Report {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return cur.Report()
	}
	return build(deltaRaw(cmp.Or(prev.raw, &rawData{}), cmp.Or(cur.raw, &rawData{})), prev.end, cur.end, cmp.Or(cur.cfg, defaultConfig()))
}
