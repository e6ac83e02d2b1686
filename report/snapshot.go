package report

import "time"

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
	return build(s.data(), s.start, s.end, s.config())
}

func (s *Snapshot) data() *rawData {
	if s.raw == nil {
		return &rawData{}
	}
	return s.raw
}

func (s *Snapshot) config() *config {
	if s.cfg == nil {
		return defaultConfig()
	}
	return s.cfg
}

// Delta returns the report of the interval between two snapshots of the same
// collector: its window runs from prev's end to cur's end, counts are
// differences, and quantiles come from the differenced histogram buckets. A
// counter or histogram that went down was restarted; cur's value is then
// taken as the interval's.
//
// Pool max, in use, idle, utilization, the hit ratio gauges and the
// connection statuses are the values at cur's end. max_seconds cannot be
// derived from cumulative data: in an interval report it is the upper edge of
// the highest histogram bucket that gained values (within one bucket width,
// 2.2%), capped by cur's lifetime max. The slowest calls are cur's that
// ended inside the interval.
//
// The rules are applied again to the interval with cur's thresholds. A nil
// prev returns cur's cumulative report; a nil cur returns nil. Delta
// changes neither snapshot.
func Delta(prev, cur *Snapshot) *Report {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return cur.Report()
	}
	return build(deltaRaw(prev.data(), cur.data()), prev.end, cur.end, cur.config())
}
