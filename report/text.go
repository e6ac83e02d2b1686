package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
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
	r.writeSlowest(bw)
	r.writeRedis(bw)
	r.writeRouting(bw)
	r.writeRuntime(bw)
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
	fmt.Fprintf(w, "window %s to %s (%s", r.Window.Start.Format(time.RFC3339), r.Window.End.Format(time.RFC3339),
		seconds(r.Window.Seconds))
	if r.Window.RequestedSeconds > 0 {
		fmt.Fprintf(w, ", %s asked for", seconds(r.Window.RequestedSeconds))
	}
	fmt.Fprintf(w, "), generated %s\n", r.GeneratedAt.Format(time.RFC3339))
	if src := r.Source; src.Kind == SourcePrometheus {
		fmt.Fprintf(w, "from Prometheus %s", src.Prometheus)
		if src.Selector != "" {
			fmt.Fprintf(w, " {%s}", src.Selector)
		}
		fmt.Fprintf(w, ", %d %s: %s\n", len(src.Instances), plural(len(src.Instances), "instance", "instances"), strings.Join(src.Instances, ", "))
	}
	fmt.Fprintln(w)
}

// seconds renders a window length as a Go duration, to the millisecond.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// unjudged counts the operations with calls but fewer than min samples.
func (r *Report) unjudged() int {
	n := 0
	for i := range r.Operations {
		if op := &r.Operations[i]; op.Count > 0 && !r.judged(op) {
			n++
		}
	}
	return n
}

// unjudgedNote explains the mark on operations the rules did not judge.
func (r *Report) unjudgedNote() string {
	return fmt.Sprintf("fewer than %d calls: error_rate, tail_latency and batch_get_linked_pod do not judge it", r.Thresholds.MinSamples)
}

func (r *Report) writeOperations(w io.Writer) {
	if len(r.Operations) == 0 {
		fmt.Fprint(w, "OPERATIONS\nno operations recorded\n\n")
		return
	}
	marked := r.unjudged() > 0
	label := func(op *Operation) string {
		if marked && op.Count > 0 && !r.judged(op) {
			return op.Name + "*"
		}
		return op.Name
	}
	rows := [][]string{{"OPERATION", "CALLS", "OPS/S", "ERRORS", "ERROR%", "MEAN", "P50", "P90", "P99", "MAX"}}
	for i := range r.Operations {
		op := &r.Operations[i]
		rows = append(rows, []string{label(op), strconv.FormatUint(op.Count, 10), formatRate(op.OpsPerSec),
			strconv.FormatUint(op.Errors, 10), formatPercent(op.ErrorRate), latency(op, op.MeanSeconds), latency(op, op.P50Seconds),
			latency(op, op.P90Seconds), latency(op, op.P99Seconds), latency(op, op.MaxSeconds)})
	}
	writeTable(w, rows)
	if marked {
		fmt.Fprintf(w, "* %s\n", r.unjudgedNote())
	}
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

func (r *Report) writeSlowest(w io.Writer) {
	header := false
	for i := range r.Operations {
		op := &r.Operations[i]
		if len(op.SlowestCalls) == 0 {
			continue
		}
		if !header {
			fmt.Fprint(w, "SLOWEST CALLS (sampled traces)\n")
			header = true
		}
		parts := make([]string, len(op.SlowestCalls))
		for j, c := range op.SlowestCalls {
			parts[j] = formatSeconds(c.Seconds) + " " + c.TraceID
		}
		fmt.Fprintf(w, "%s: %s\n", op.Name, strings.Join(parts, ", "))
	}
	if header {
		fmt.Fprintln(w)
	}
}

func (r *Report) writeRedis(w io.Writer) {
	rd := &r.Redis
	fmt.Fprint(w, "REDIS\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := &rd.Pool
	if rd.Embedded != "" {
		fmt.Fprintf(tw, "server\t%s\n", embeddedText(rd.Embedded))
	}
	fmt.Fprintf(tw, "connection\t%s\n", connectionSummary(rd))
	if pg := rd.Ping; pg != nil {
		fmt.Fprintf(tw, "ping\t%d pings, p50 %s, p99 %s, max %s\n",
			pg.Count, formatSeconds(pg.P50Seconds), formatSeconds(pg.P99Seconds), formatSeconds(pg.MaxSeconds))
	}
	fmt.Fprintf(tw, "pool\t%s\n", poolText(p))
	sc := &rd.ScriptCache
	fmt.Fprintf(tw, "script cache\t%d hits, %d misses, %d reloads (%d after the warm-up); hit ratio %s\n",
		sc.Hits, sc.Misses, sc.Reloads, sc.ReloadsAfterWarmup, formatPercent(sc.HitRatio))
	if st := rd.StateCache; st != nil {
		fmt.Fprintf(tw, "state cache\t%d hits, %d misses; hit ratio %s\n", st.Hits, st.Misses, formatPercent(st.HitRatio))
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(rd.Clients) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "CLIENT\tCONNECTION\tPOOL\n")
		for i := range rd.Clients {
			c := &rd.Clients[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\n", clientName(c), connectionText(c.ConnectionUp), poolText(&c.Pool))
			if len(c.Pools) > 1 {
				for j := range c.Pools {
					fmt.Fprintf(tw, "\t\t%s: %s\n", c.Pools[j].Name, poolText(&c.Pools[j]))
				}
			}
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(rd.Commands) > 0 {
		rows := [][]string{{"COMMAND", "CALLS", "ERRORS", "MEAN", "P50", "P90", "P99", "MAX"}}
		for _, c := range rd.Commands {
			rows = append(rows, []string{c.Name, strconv.FormatUint(c.Count, 10), strconv.FormatUint(c.Errors, 10), formatSeconds(c.MeanSeconds),
				formatSeconds(c.P50Seconds), formatSeconds(c.P90Seconds), formatSeconds(c.P99Seconds), formatSeconds(c.MaxSeconds)})
		}
		writeTable(w, rows)
		fmt.Fprintln(w)
	}
}

// writeTable writes rows, the header first, in right-aligned columns; the
// first column is padded here so that names read left-aligned. No padding:
// each cell after the name brings its own two-space gap, so the table does
// not start indented.
func writeTable(w io.Writer, rows [][]string) {
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 0, ' ', tabwriter.AlignRight)
	for _, row := range rows {
		fmt.Fprintf(tw, "%-*s\t  %s\t\n", width, row[0], strings.Join(row[1:], "\t  "))
	}
	tw.Flush()
}

// poolText describes a pool; for a sum, utilization is the busiest pool's.
func poolText(p *Pool) string {
	util := formatPercent(p.Utilization)
	if p.Name == "" && p.Max > 0 && math.Abs(p.Utilization-float64(p.InUse)/float64(p.Max)) > 1e-9 {
		util = "busiest pool " + util
	}
	return fmt.Sprintf("%d of %d connections in use (%s), %d idle; %d waits (%s waiting), %d timeouts; %d hits, %d misses",
		p.InUse, p.Max, util, p.Idle, p.Waits, formatSeconds(p.WaitSeconds), p.Timeouts, p.Hits, p.Misses)
}

// clientName names a client in a table; an unnamed one is "(unnamed)".
func clientName(c *Client) string {
	if l := clientLabel(c); l != "" {
		return l
	}
	return "(unnamed)"
}

// connectionSummary is the summary status with the count of clients down.
func connectionSummary(rd *Redis) string {
	s := connectionText(rd.ConnectionUp)
	down := 0
	for i := range rd.Clients {
		if up := rd.Clients[i].ConnectionUp; up != nil && !*up {
			down++
		}
	}
	if n := len(rd.Clients); n > 1 || down > 0 {
		s += fmt.Sprintf(" (%d of %d clients down)", down, n)
	}
	return s
}

func (r *Report) writeRuntime(w io.Writer) {
	rt := r.Runtime
	if rt == nil {
		return
	}
	fmt.Fprint(w, "GO RUNTIME\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range []struct {
		name, what string
		l          *Latency
	}{{"scheduling latency", "waits for a CPU", &rt.SchedulingLatency}, {"gc pauses", "pauses", &rt.GCPauses}} {
		fmt.Fprintf(tw, "%s\t%d %s, p50 %s, p99 %s, max %s\n", l.name, l.l.Count, l.what,
			formatSeconds(l.l.P50Seconds), formatSeconds(l.l.P99Seconds), formatSeconds(l.l.MaxSeconds))
	}
	if q := rt.OSRunQueue; q != nil {
		fmt.Fprintf(tw, "os run queue\t%s waiting for a CPU over %d timeslices, %s each on average\n",
			formatSeconds(q.WaitSeconds), q.Timeslices, formatSeconds(q.MeanWaitSeconds))
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
		id := s.ID
		if s.Cause != "" {
			id += " (cause: " + s.Cause + ")"
		}
		fmt.Fprintf(w, "%-8s %s: %s\n", strings.ToUpper(string(s.Severity)), id, s.Message)
		fmt.Fprintf(w, "         evidence: %s\n", strings.Join(evidenceList(s.Evidence), ", "))
	}
}

// embeddedText warns that an embedded server's latencies are not Redis's.
func embeddedText(server string) string {
	return "embedded " + server + ", an in-process stand-in: its latencies are not Redis's"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
