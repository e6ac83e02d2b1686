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
	"clientLabel":  clientLabel,
	"routing":      (*Routing).lines,
	"marked":       (*Report).marked,
	"unjudged":     (*Report).unjudged,
	"unjudgedNote": (*Report).unjudgedNote,
	"clientsDown":  clientsDown,
	"latency":      latency,
}

var textTemplate = template.New("text")

func init() {
	template.Must(textTemplate.Funcs(funcs).Funcs(template.FuncMap{
		"duration": seconds,
		"join":     strings.Join,
		"upper":    func(s Severity) string { return strings.ToUpper(string(s)) },
		"busiest":  busiest,
		"aligned":  aligned,
		"max":      func(a, b int) int { return max(a, b) },
		"opName": func(r *Report, op *Operation) string {
			if r.marked(op) {
				return op.Name + "*"
			}
			return op.Name
		},
	}).Parse(textSource))
}

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

// aligned runs the template name over data into right-aligned columns,
// each cell bringing its own two-space gap; the first one, padded in the
// template, reads left-aligned.
func aligned(name string, data any) (string, error) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 0, ' ', tabwriter.AlignRight)
	if err := textTemplate.ExecuteTemplate(tw, name, data); err != nil {
		return "", err
	}
	err := tw.Flush()
	return b.String(), err
}

// latency renders a latency cell; "-" when the operation has no timings.
func latency(op Operation, s float64) string {
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
