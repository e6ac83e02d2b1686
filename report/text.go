package report

import (
	_ "embed"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
)

//go:embed report.txt.tmpl
var textSource string

// funcs are the functions both templates, text and HTML, call.
var funcs = map[string]any{
	"seconds":      formatSeconds,
	"percent":      formatPercent,
	"rate":         formatRate,
	"time":         func(t time.Time) string { return t.Format(time.RFC3339) },
	"keys":         sortedKeys[uint64],
	"evidence":     evidenceList,
	"connection":   connectionText,
	"embedded":     embeddedText,
	"clientName":   clientName,
	"routing":      (*Routing).lines,
	"marked":       (*Report).marked,
	"unjudged":     (*Report).unjudged,
	"unjudgedNote": (*Report).unjudgedNote,
	"clientsDown":  clientsDown,
}

var textTemplate = template.Must(template.New("text").Funcs(funcs).Funcs(template.FuncMap{
	"duration":       seconds,
	"join":           strings.Join,
	"upper":          func(s Severity) string { return strings.ToUpper(string(s)) },
	"operationTable": operationTable,
	"commandTable":   commandTable,
	"busiest":        busiest,
}).Parse(textSource))

// WriteText writes r for a terminal: a header, the operations in aligned
// columns with latencies in µs, ms or s, errors by type, the Redis client and
// the suggestions with their evidence.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if err := textTemplate.Execute(tw, r); err != nil {
		return err
	}
	return tw.Flush()
}

// seconds renders a window length as a Go duration, to the millisecond.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// marked reports whether op has calls but too few for the rules.
func (r *Report) marked(op *Operation) bool { return op.Count > 0 && !r.judged(op) }

// unjudged reports whether any operation is marked.
func (r *Report) unjudged() bool {
	return slices.ContainsFunc(r.Operations, func(op Operation) bool { return r.marked(&op) })
}

// unjudgedNote explains the mark on operations the rules did not judge.
func (r *Report) unjudgedNote() string {
	return fmt.Sprintf("fewer than %d calls: error_rate, tail_latency and batch_get_linked_pod do not judge it", r.Thresholds.MinSamples)
}

// operationTable is the operations in aligned columns, those the rules did
// not judge marked.
func operationTable(r *Report) string {
	rows := [][]string{{"OPERATION", "CALLS", "OPS/S", "ERRORS", "ERROR%", "MEAN", "P50", "P90", "P99", "MAX"}}
	for i := range r.Operations {
		op := &r.Operations[i]
		name := op.Name
		if r.marked(op) {
			name += "*"
		}
		rows = append(rows, []string{name, strconv.FormatUint(op.Count, 10), formatRate(op.OpsPerSec),
			strconv.FormatUint(op.Errors, 10), formatPercent(op.ErrorRate), latency(op, op.MeanSeconds), latency(op, op.P50Seconds),
			latency(op, op.P90Seconds), latency(op, op.P99Seconds), latency(op, op.MaxSeconds)})
	}
	return table(rows)
}

// commandTable is the Redis commands in aligned columns.
func commandTable(cmds []Command) string {
	rows := [][]string{{"COMMAND", "CALLS", "ERRORS", "MEAN", "P50", "P90", "P99", "MAX"}}
	for _, c := range cmds {
		rows = append(rows, []string{c.Name, strconv.FormatUint(c.Count, 10), strconv.FormatUint(c.Errors, 10), formatSeconds(c.MeanSeconds),
			formatSeconds(c.P50Seconds), formatSeconds(c.P90Seconds), formatSeconds(c.P99Seconds), formatSeconds(c.MaxSeconds)})
	}
	return table(rows)
}

// table is rows, the header first, in right-aligned columns; the first
// column is padded here so that names read left-aligned. No padding: each
// cell after the name brings its own two-space gap, so the table does not
// start indented.
func table(rows [][]string) string {
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 0, ' ', tabwriter.AlignRight)
	for _, row := range rows {
		fmt.Fprintf(tw, "%-*s\t  %s\t\n", width, row[0], strings.Join(row[1:], "\t  "))
	}
	tw.Flush()
	return b.String()
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

// busiest reports whether a sum of pools has the utilization of its
// busiest pool rather than its own in use / max.
func busiest(p Pool) bool {
	return p.Name == "" && p.Max > 0 && math.Abs(p.Utilization-float64(p.InUse)/float64(p.Max)) > 1e-9
}

// clientName names a client in a table; an unnamed one is "(unnamed)".
func clientName(c *Client) string {
	if l := clientLabel(c); l != "" {
		return l
	}
	return "(unnamed)"
}

// clientsDown counts the clients whose connection is down.
func clientsDown(rd *Redis) (n int) {
	for i := range rd.Clients {
		if up := rd.Clients[i].ConnectionUp; up != nil && !*up {
			n++
		}
	}
	return n
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

// embeddedText warns that an embedded server's latencies are not Redis's.
func embeddedText(server string) string {
	return "embedded " + server + ", an in-process stand-in: its latencies are not Redis's"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// formatSeconds renders a duration in seconds with three significant digits
// in the unit that fits: 312µs, 1.20ms, 2.50s. Zero renders as 0s.
func formatSeconds(s float64) string {
	switch {
	case s <= 0:
		return "0s"
	case s < 999.5e-6:
		return sig3(s*1e6) + "µs"
	case s < 0.9995:
		return sig3(s*1e3) + "ms"
	}
	return sig3(s) + "s"
}

// sig3 formats v ≥ 0 with three significant digits, no exponent.
func sig3(v float64) string {
	switch {
	case v >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 0.9995:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// formatEvidence renders one evidence value in the unit its key names:
// durations in µs, ms or s, shares in percent, rates per second, counts
// whole.
func formatEvidence(k string, v float64) string {
	name := k
	if i := strings.IndexByte(k, '{'); i >= 0 {
		name = k[:i]
	}
	switch {
	case strings.HasSuffix(name, "seconds") && !strings.HasSuffix(name, "per_second"), strings.Contains(name, "wait_time"):
		return formatSeconds(v)
	case strings.HasSuffix(name, "share") || strings.HasSuffix(name, "hit") || strings.HasSuffix(name, "rate") || strings.HasSuffix(name, "utilization"):
		return formatPercent(v)
	case strings.HasSuffix(name, "per_second") || strings.HasSuffix(name, "per_sec"):
		return sig3(v) + "/s"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return sig3(v)
}

// evidenceList is a suggestion's evidence as "key value" lines, sorted.
func evidenceList(m map[string]float64) []string {
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = k + " " + formatEvidence(k, m[k])
	}
	return keys
}
