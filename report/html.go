package report

import (
	_ "embed"
	"html/template"
	"io"
	"maps"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(funcs).Parse(htmlSource))

// WriteHTML writes r as one self-contained HTML page: inline styles that
// follow the reader's light or dark preference, the suggestions table, an
// inline SVG latency chart per operation on one shared log scale, and, for a
// report with a timeline, charts of throughput, error rate and p99 over
// time. It loads nothing from elsewhere; links to traces are links.
func (r *Report) WriteHTML(w io.Writer) error {
	return r.writeHTML(w, pageOptions{})
}

// pageOptions are what the handler adds to the page: a refresh interval
// and links to the other windows and refresh intervals.
type pageOptions struct {
	refresh time.Duration // 0: no refresh
	links   bool
	query   url.Values // the request's query, which the links keep
	span    time.Duration
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

// writeHTML writes the page with the handler's additions.
func (r *Report) writeHTML(w io.Writer, o pageOptions) error {
	v := &htmlView{Report: r, Title: "sfotel report", Geometry: chartGeometry, Sparks: sparkRows(r.Timeline)}
	if r.Service.Name != "" {
		v.Title += ": " + strings.TrimSpace(r.Service.Name+" "+r.Service.Version)
	}
	if o.refresh > 0 {
		v.RefreshSeconds = strconv.Itoa(int(o.refresh.Round(time.Second) / time.Second))
	}
	if o.links {
		v.Windows, v.Refreshes = o.navigation(r)
	}
	v.latencyCharts()
	return htmlTemplate.Execute(w, v)
}

// navLink is one link of the page's window and refresh choices.
type navLink struct {
	Label, Href string
	Current     bool
}

// The windows (within the kept span) and refresh intervals the page links to.
var (
	windowChoices  = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	refreshChoices = []time.Duration{5 * time.Second, 15 * time.Second, time.Minute}
)

// navigation builds the page's links: each keeps the other parameters.
func (o pageOptions) navigation(r *Report) (windows, refresh []navLink) {
	link := func(key string, d time.Duration, label string, current bool) navLink {
		q := url.Values{}
		maps.Copy(q, o.query)
		q.Set("format", FormatHTML)
		q.Del(key)
		if d > 0 {
			label = shortDuration(d)
			q.Set(key, label)
		}
		return navLink{Label: label, Href: "?" + q.Encode(), Current: current}
	}
	cur := r.Window.RequestedSeconds
	windows = []navLink{link("window", 0, "since start", cur == 0)}
	for _, d := range windowChoices {
		if d <= o.span {
			windows = append(windows, link("window", d, "", cur == d.Seconds()))
		}
	}
	refresh = []navLink{link("refresh", 0, "off", o.refresh == 0)}
	for _, d := range refreshChoices {
		refresh = append(refresh, link("refresh", d, "", o.refresh == d))
	}
	return windows, refresh
}

// shortDuration writes 1m rather than 1m0s.
func shortDuration(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// geometry holds the latency charts' layout for the template, in SVG user
// units.
type geometry struct {
	Left, Width, BarHeight, PlotHeight, SVGWidth, SVGHeight float64
}

const (
	chartLeft  = 34.0  // room for the bar labels
	chartWidth = 400.0 // the log axis
	barHeight  = 11.0
	barGap     = 3.0
)

var chartGeometry = geometry{
	Left: chartLeft, Width: chartWidth, BarHeight: barHeight,
	PlotHeight: 4*(barHeight+barGap) - barGap,
	SVGWidth:   chartLeft + chartWidth + 58,
	SVGHeight:  4*(barHeight+barGap) + 14,
}

// bar is one statistic of an operation's latency chart.
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

// latencyCharts adds up the totals and lays out the latency charts on one
// log axis of whole decades, so the ticks read 10µs, 100µs, 1ms ...
func (v *htmlView) latencyCharts() {
	var errs uint64
	lo, hi := math.Inf(1), 0.0
	for _, op := range v.Operations {
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
	loExp, hiExp := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	hiExp = max(hiExp, loExp+1)
	x := func(s float64) float64 {
		if s <= 0 {
			return 0
		}
		return math.Max(1, math.Min(1, (math.Log10(s)-loExp)/(hiExp-loExp))*chartWidth)
	}
	for e := loExp; e <= hiExp; e++ {
		v.Axis = append(v.Axis, tick{X: chartLeft + x(math.Pow(10, e)), Label: decadeLabel(int(e))})
	}
	v.Axis[0].X = chartLeft
	for i := range v.Operations {
		op := &v.Operations[i]
		var c []bar
		for j, s := range []float64{op.P50Seconds, op.P90Seconds, op.P99Seconds, op.MaxSeconds} {
			label := [...]string{"p50", "p90", "p99", "max"}[j]
			c = append(c, bar{Label: label, Value: latency(*op, s), Class: "b" + strings.TrimPrefix(label, "p"),
				Y: float64(j) * (barHeight + barGap), Width: x(s), TextX: chartLeft + x(s) + 4})
		}
		v.Charts = append(v.Charts, c)
	}
}

// decadeLabel names the power of ten 10^e seconds: 10µs, 1ms, 10s.
func decadeLabel(e int) string {
	for _, u := range []struct {
		exp  int
		name string
	}{{0, "s"}, {-3, "ms"}, {-6, "µs"}, {-9, "ns"}} {
		if e >= u.exp {
			return "1" + strings.Repeat("0", e-u.exp) + u.name
		}
	}
	return "1e" + strconv.Itoa(e) + "s"
}

// Timeline chart geometry, in SVG user units.
const (
	sparkWidth  = 220.0
	sparkHeight = 44.0
	sparkTop    = 12.0 // room for the max label
	sparkBottom = 12.0 // room for the time labels
)

// sparkRow is one operation's three timeline charts.
type sparkRow struct {
	Operation string
	Charts    []spark
}

// spark is one timeline chart: a line over the kept window.
type spark struct {
	Metric                             string // ops_per_sec, error_rate, p99_seconds
	Title                              string
	Max                                string // the top of the scale, formatted
	Last                               string // the latest value, formatted
	Points                             string // SVG polyline points
	Dots                               []dot  // a single point, where the line has nothing to join
	Width, Height, PlotTop, PlotBottom float64
	From, To                           string // the time labels
}

type dot struct{ X, Y float64 }

// sparkMetrics are the timeline's charts.
var sparkMetrics = []struct {
	metric, title string
	value         func(Point) float64
	format        func(float64) string
}{
	{"ops_per_sec", "calls/s", func(p Point) float64 { return p.OpsPerSec }, formatRate},
	{"error_rate", "error rate", func(p Point) float64 { return p.ErrorRate }, formatPercent},
	{"p99_seconds", "p99", func(p Point) float64 { return p.P99Seconds }, formatSeconds},
}

// sparkRows lays out the timeline: one row per operation, one chart per
// metric, on a time axis shared by all.
func sparkRows(tl *Timeline) []sparkRow {
	if tl == nil {
		return nil
	}
	var from, to time.Time
	for _, s := range tl.Operations {
		for _, p := range s.Points {
			if from.IsZero() || p.End.Before(from) {
				from = p.End
			}
			if p.End.After(to) {
				to = p.End
			}
		}
	}
	if from.IsZero() {
		return nil
	}
	x := func(t time.Time) float64 {
		if span := to.Sub(from).Seconds(); span > 0 {
			return 1 + (sparkWidth-2)*t.Sub(from).Seconds()/span
		}
		return sparkWidth / 2
	}
	rows := make([]sparkRow, 0, len(tl.Operations))
	for _, s := range tl.Operations {
		row := sparkRow{Operation: s.Name}
		for _, m := range sparkMetrics {
			top := 0.0
			for _, p := range s.Points {
				top = math.Max(top, m.value(p))
			}
			y := func(p Point) float64 {
				if top <= 0 {
					return sparkTop + sparkHeight
				}
				return sparkTop + sparkHeight*(1-m.value(p)/top)
			}
			c := spark{Metric: m.metric, Title: m.title, Max: m.format(top),
				Width: sparkWidth, Height: sparkTop + sparkHeight + sparkBottom, PlotTop: sparkTop, PlotBottom: sparkTop + sparkHeight,
				From: from.Format("15:04:05"), To: to.Format("15:04:05")}
			var pts []string
			for _, p := range s.Points {
				pts = append(pts, strconv.FormatFloat(x(p.End), 'f', 1, 64)+","+strconv.FormatFloat(y(p), 'f', 1, 64))
				c.Last = m.format(m.value(p))
			}
			if len(pts) == 1 {
				c.Dots = []dot{{X: x(s.Points[0].End), Y: y(s.Points[0])}}
			} else {
				c.Points = strings.Join(pts, " ")
			}
			row.Charts = append(row.Charts, c)
		}
		rows = append(rows, row)
	}
	return rows
}
