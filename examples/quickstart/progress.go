package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/statefulroute/sfotel/report"
)

// progress prints one line per interval, from the same report collector that
// serves /debug/report: the interval's throughput, errors and the worst p99.
func progress(ctx context.Context, every time.Duration, rc *report.Collector, out io.Writer) {
	start := time.Now()
	prev, err := rc.Snapshot(ctx)
	if err != nil {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur, err := rc.Snapshot(ctx)
		if err != nil {
			fmt.Fprintf(out, "%6s  report snapshot failed: %v\n", since(start), err)
			continue
		}
		fmt.Fprintf(out, "%6s  %s\n", since(start), progressLine(report.Delta(prev, cur)))
		prev = cur
	}
}

// progressLine summarises an interval report: total ops/s, errors and the
// highest p99 of any operation, named, since that is where to look first.
func progressLine(r *report.Report) string {
	var (
		count, errs uint64
		worst       *report.Operation
	)
	for i := range r.Operations {
		op := &r.Operations[i]
		count += op.Count
		errs += op.Errors
		if op.Count > 0 && (worst == nil || op.P99Seconds > worst.P99Seconds) {
			worst = op
		}
	}
	var opsPerSec float64
	if r.Window.Seconds > 0 {
		opsPerSec = float64(count) / r.Window.Seconds
	}
	line := fmt.Sprintf("ops/s %8.0f  errors %d", opsPerSec, errs)
	if worst != nil {
		line += fmt.Sprintf("  p99 %s (%s)", seconds(worst.P99Seconds), worst.Name)
	}
	return line
}

func since(start time.Time) string { return time.Since(start).Round(time.Second).String() }

// seconds prints a latency with three significant digits or so.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(time.Microsecond).String()
	default:
		return d.String()
	}
}
