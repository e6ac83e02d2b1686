package report

import (
	_ "embed"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(funcs).Funcs(template.FuncMap{
	"latency": func(op Operation, s float64) string { return latency(&op, s) },
}).Parse(htmlSource))

// WriteHTML writes r as one self-contained HTML page: inline styles that
// follow the reader's light or dark preference, the suggestions table, an
// inline SVG latency chart per operation on one shared log scale, and, for a
// report with a timeline, charts of throughput, error rate and p99 over
// time. It loads nothing from elsewhere; links to traces are links.
func (r *Report) WriteHTML(w io.Writer) error {
	return r.writeHTML(w, pageOptions{})
}

// writeHTML writes the page with the handler's additions.
func (r *Report) writeHTML(w io.Writer, o pageOptions) error {
	v := newHTMLView(r)
	v.Windows, v.Refreshes = o.navigation(r)
	if o.refresh > 0 {
		v.RefreshSeconds = refreshSeconds(o.refresh)
	}
	v.Sparks = sparkRows(r.Timeline)
	return htmlTemplate.Execute(w, v)
}

// htmlView is what the template renders: the report and the chart geometry.
type htmlView struct {
	*Report
	Title      string
	TotalCalls uint64
	TotalRate  float64
	ErrorRate  float64
	Charts     [][]bar // one per operation, in the order of Operations
	Axis       []tick
	Geometry   geometry

	Windows, Refreshes []navLink  // the handler's links
	RefreshSeconds     string     // the refresh meta element, "" for none
	Sparks             []sparkRow // the timeline charts
}

// geometry holds the chart layout constants for the template.
type geometry struct {
	Left, Width, BarHeight, PlotHeight, SVGWidth, SVGHeight float64
}

// bar is one statistic of an operation's SVG latency chart.
type bar struct {
	Label string  // p50, p90, p99, max
	Value string  // formatted latency
	Class string  // CSS class giving the colour
	Y     float64 // top of the bar
	Width float64 // length on the log axis
	TextX float64 // where the value label starts, just after the bar
}

type tick struct {
	X     float64
	Label string
}

// Chart geometry, in SVG user units.
const (
	chartLeft  = 34.0  // room for the bar labels
	chartWidth = 400.0 // the log axis
	barHeight  = 11.0
	barGap     = 3.0
)

func newHTMLView(r *Report) *htmlView {
	v := &htmlView{Report: r, Title: "sfotel report", Geometry: geometry{
		Left: chartLeft, Width: chartWidth, BarHeight: barHeight,
		PlotHeight: 4*(barHeight+barGap) - barGap,
		SVGWidth:   chartLeft + chartWidth + 58,
		SVGHeight:  4*(barHeight+barGap) + 14,
	}}
	if r.Service.Name != "" {
		v.Title += ": " + strings.TrimSpace(r.Service.Name+" "+r.Service.Version)
	}
	var errs uint64
	lo, hi := math.Inf(1), 0.0
	for i := range r.Operations {
		op := &r.Operations[i]
		v.TotalCalls += op.Count
		v.TotalRate += op.OpsPerSec
		errs += op.Errors
		for _, s := range [...]float64{op.P50Seconds, op.MaxSeconds} {
			if s > 0 {
				lo, hi = math.Min(lo, s), math.Max(hi, s)
			}
		}
	}
	v.ErrorRate = ratio(errs, v.TotalCalls)
	if hi == 0 { // no timings at all
		lo, hi = 1e-6, 1
	}
	// Whole decades on both ends, so the ticks read 10µs, 100µs, 1ms ...
	loExp, hiExp := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if hiExp <= loExp {
		hiExp = loExp + 1
	}
	x := func(s float64) float64 {
		if s <= 0 {
			return 0
		}
		f := (math.Log10(s) - loExp) / (hiExp - loExp)
		return math.Max(1, math.Min(1, f)*chartWidth)
	}
	for e := loExp; e <= hiExp; e++ {
		v.Axis = append(v.Axis, tick{X: chartLeft + x(math.Pow(10, e)), Label: decadeLabel(int(e))})
	}
	v.Axis[0].X = chartLeft
	for i := range r.Operations {
		op := &r.Operations[i]
		var c []bar
		for j, s := range []struct {
			label, class string
			v            float64
		}{{"p50", "b50", op.P50Seconds}, {"p90", "b90", op.P90Seconds}, {"p99", "b99", op.P99Seconds}, {"max", "bmax", op.MaxSeconds}} {
			c = append(c, bar{
				Label: s.label, Value: latency(op, s.v), Class: s.class,
				Y: float64(j) * (barHeight + barGap), Width: x(s.v), TextX: chartLeft + x(s.v) + 4,
			})
		}
		v.Charts = append(v.Charts, c)
	}
	return v
}

// decadeLabel names the power of ten 10^e seconds: 10µs, 1ms, 10s.
func decadeLabel(e int) string {
	units := []struct {
		exp  int
		name string
	}{{0, "s"}, {-3, "ms"}, {-6, "µs"}, {-9, "ns"}}
	for _, u := range units {
		if e >= u.exp {
			return "1" + strings.Repeat("0", e-u.exp) + u.name
		}
	}
	return "1e" + strconv.Itoa(e) + "s"
}
