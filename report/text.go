package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
)

// WriteText writes r for a terminal: a header, the operations in aligned
// columns with latencies in µs, ms or s, errors by type, the Redis client and
// the suggestions with their evidence.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.writeHeader(bw)
	r.writeOperations(bw)
	r.writeErrors(bw)
	r.writeRedis(bw)
	r.writeSuggestions(bw)
	return bw.Flush()
}

func (r *Report) writeHeader(w io.Writer) {
	name := r.Service.Name
	if name == "" {
		name = "unknown service"
	}
	if r.Service.Version != "" {
		name += " " + r.Service.Version
	}
	fmt.Fprintf(w, "sfotel report: %s\n", name)
	fmt.Fprintf(w, "window %s to %s (%s), generated %s\n\n",
		r.Window.Start.Format(time.RFC3339), r.Window.End.Format(time.RFC3339),
		time.Duration(r.Window.Seconds*float64(time.Second)).Round(time.Millisecond),
		r.GeneratedAt.Format(time.RFC3339))
}

func (r *Report) writeOperations(w io.Writer) {
	if len(r.Operations) == 0 {
		fmt.Fprint(w, "OPERATIONS\nno operations recorded\n\n")
		return
	}
	// tabwriter right-aligns every column; the name column is padded here
	// so that names read left-aligned.
	nameWidth := len("OPERATION")
	for i := range r.Operations {
		nameWidth = max(nameWidth, len(r.Operations[i].Name))
	}
	// No padding: each cell after the name brings its own two-space gap, so
	// the right-aligned table does not start indented.
	tw := tabwriter.NewWriter(w, 0, 0, 0, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t  CALLS\t  OPS/S\t  ERRORS\t  ERROR%%\t  MEAN\t  P50\t  P90\t  P99\t  MAX\t\n", nameWidth, "OPERATION")
	for i := range r.Operations {
		op := &r.Operations[i]
		fmt.Fprintf(tw, "%-*s\t  %d\t  %s\t  %d\t  %s\t  %s\t  %s\t  %s\t  %s\t  %s\t\n", nameWidth, op.Name,
			op.Count, formatRate(op.OpsPerSec), op.Errors, formatPercent(op.ErrorRate),
			latency(op, op.MeanSeconds), latency(op, op.P50Seconds), latency(op, op.P90Seconds),
			latency(op, op.P99Seconds), latency(op, op.MaxSeconds))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// latency renders a latency cell; "-" when the operation has no timings.
func latency(op *Operation, s float64) string {
	if op.Count == 0 || (s == 0 && op.MeanSeconds == 0) {
		return "-"
	}
	return formatSeconds(s)
}

func formatRate(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func (r *Report) writeErrors(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := false
	for i := range r.Operations {
		op := &r.Operations[i]
		for _, t := range sortedKeys(op.ErrorsByType) {
			if !header {
				fmt.Fprint(w, "ERRORS BY TYPE\n")
				fmt.Fprint(tw, "OPERATION\tERROR TYPE\tCOUNT\n")
				header = true
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\n", op.Name, t, op.ErrorsByType[t])
		}
	}
	if header {
		tw.Flush()
		fmt.Fprintln(w)
	}
}

func (r *Report) writeRedis(w io.Writer) {
	rd := &r.Redis
	fmt.Fprint(w, "REDIS\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := &rd.Pool
	fmt.Fprintf(tw, "connection\t%s\n", connectionText(rd.ConnectionUp))
	if pg := rd.Ping; pg != nil {
		fmt.Fprintf(tw, "ping\t%d pings, p50 %s, p99 %s, max %s\n",
			pg.Count, formatSeconds(pg.P50Seconds), formatSeconds(pg.P99Seconds), formatSeconds(pg.MaxSeconds))
	}
	fmt.Fprintf(tw, "pool\t%d of %d connections in use (%s), %d idle; %d waits (%s waiting), %d timeouts; %d hits, %d misses\n",
		p.InUse, p.Max, formatPercent(p.Utilization), p.Idle, p.Waits, formatSeconds(p.WaitSeconds), p.Timeouts, p.Hits, p.Misses)
	sc := &rd.ScriptCache
	fmt.Fprintf(tw, "script cache\t%d hits, %d misses, %d reloads; hit ratio %s\n",
		sc.Hits, sc.Misses, sc.Reloads, formatPercent(sc.HitRatio))
	if st := rd.StateCache; st != nil {
		fmt.Fprintf(tw, "state cache\t%d hits, %d misses; hit ratio %s\n", st.Hits, st.Misses, formatPercent(st.HitRatio))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func connectionText(up *bool) string {
	switch {
	case up == nil:
		return "unknown (no status recorded)"
	case *up:
		return contract.StatusUp
	}
	return contract.StatusDown
}

func (r *Report) writeSuggestions(w io.Writer) {
	fmt.Fprint(w, "SUGGESTIONS\n")
	if len(r.Suggestions) == 0 {
		fmt.Fprint(w, "none: every rule passed\n")
		return
	}
	for i := range r.Suggestions {
		s := &r.Suggestions[i]
		fmt.Fprintf(w, "%-8s %s: %s\n", strings.ToUpper(string(s.Severity)), s.ID, s.Message)
		keys := sortedKeys(s.Evidence)
		parts := make([]string, len(keys))
		for j, k := range keys {
			parts[j] = k + "=" + strconv.FormatFloat(s.Evidence[k], 'g', 6, 64)
		}
		fmt.Fprintf(w, "         evidence: %s\n", strings.Join(parts, ", "))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
