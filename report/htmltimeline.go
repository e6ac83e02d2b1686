package report

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pageOptions are what the handler adds to the page: a refresh interval
// and links to the other windows. WriteHTML writes a static page without
// them.
type pageOptions struct {
	refresh time.Duration // 0: no refresh
	links   bool
	query   url.Values // the request's query, for the links
	span    time.Duration
}

// navLink is one link of the page's window and refresh choices.
type navLink struct {
	Label, Href string
	Current     bool
}

// windowChoices are the windows the page links to, within the kept span.
var windowChoices = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// refreshChoices are the refresh intervals the page links to.
var refreshChoices = []time.Duration{5 * time.Second, 15 * time.Second, time.Minute}

// navigation builds the page's links: each keeps the other parameters.
func (o pageOptions) navigation(r *Report) (windows, refresh []navLink) {
	if !o.links {
		return nil, nil
	}
	link := func(key, value string) string {
		q := url.Values{}
		for k, v := range o.query {
			q[k] = v
		}
		q.Set("format", FormatHTML)
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		return "?" + q.Encode()
	}
	cur := r.Window.RequestedSeconds
	windows = append(windows, navLink{Label: "since start", Href: link("window", ""), Current: cur == 0})
	for _, d := range windowChoices {
		if d > o.span {
			break
		}
		windows = append(windows, navLink{Label: shortDuration(d), Href: link("window", shortDuration(d)), Current: cur == d.Seconds()})
	}
	refresh = append(refresh, navLink{Label: "off", Href: link("refresh", ""), Current: o.refresh == 0})
	for _, d := range refreshChoices {
		refresh = append(refresh, navLink{Label: shortDuration(d), Href: link("refresh", shortDuration(d)), Current: o.refresh == d})
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
	Dots                               []dot  // single points, where the line has nothing to join
	Width, Height, PlotTop, PlotBottom float64
	From, To                           string // the time labels
}

type dot struct{ X, Y float64 }

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
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return sparkWidth / 2
		}
		return 1 + (sparkWidth-2)*t.Sub(from).Seconds()/span
	}
	rows := make([]sparkRow, 0, len(tl.Operations))
	for _, s := range tl.Operations {
		row := sparkRow{Operation: s.Name}
		for _, m := range []struct {
			metric, title string
			value         func(Point) float64
			format        func(float64) string
		}{
			{"ops_per_sec", "calls/s", func(p Point) float64 { return p.OpsPerSec }, formatRate},
			{"error_rate", "error rate", func(p Point) float64 { return p.ErrorRate }, formatPercent},
			{"p99_seconds", "p99", func(p Point) float64 { return p.P99Seconds }, formatSeconds},
		} {
			top := 0.0
			for _, p := range s.Points {
				top = math.Max(top, m.value(p))
			}
			c := spark{Metric: m.metric, Title: m.title, Max: m.format(top),
				Width: sparkWidth, Height: sparkTop + sparkHeight + sparkBottom,
				PlotTop: sparkTop, PlotBottom: sparkTop + sparkHeight,
				From: from.Format("15:04:05"), To: to.Format("15:04:05")}
			y := func(v float64) float64 {
				if top <= 0 {
					return sparkTop + sparkHeight
				}
				return sparkTop + sparkHeight*(1-v/top)
			}
			var pts []string
			for _, p := range s.Points {
				pts = append(pts, strconv.FormatFloat(x(p.End), 'f', 1, 64)+","+strconv.FormatFloat(y(m.value(p)), 'f', 1, 64))
			}
			if len(s.Points) > 0 {
				c.Last = m.format(m.value(s.Points[len(s.Points)-1]))
			}
			if len(pts) == 1 {
				p := s.Points[0]
				c.Dots = []dot{{X: x(p.End), Y: y(m.value(p))}}
			} else {
				c.Points = strings.Join(pts, " ")
			}
			row.Charts = append(row.Charts, c)
		}
		rows = append(rows, row)
	}
	return rows
}

// refreshSeconds is the content of the page's refresh meta element.
func refreshSeconds(d time.Duration) string {
	return fmt.Sprintf("%d", int(d.Round(time.Second)/time.Second))
}
