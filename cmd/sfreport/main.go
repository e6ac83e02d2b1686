// Command sfreport writes the sfotel performance report of every process a
// Prometheus server scrapes, over a time range: the report a process serves
// at /debug/report, for the whole fleet (report.FleetReport).
//
//	go run ./cmd/sfreport -prometheus http://127.0.0.1:9090 -selector 'job="router"' -since 15m
//	go run ./cmd/sfreport -start 2026-11-25T18:00:00Z -end 2026-11-25T18:30:00Z -format html -o fleet.html
//
// The whole report is bounded by -timeout (default 30s): a Prometheus that
// is down, or answers too slowly, is one line on standard error. A series
// the report left out (a sample that is NaN, infinite or beyond 2^53) is a
// warning line on standard error; the report is still written.
//
// It exits 0 after writing the report (and for -h), 1 when Prometheus
// cannot be asked in time or the report cannot be written, and 2 on a bad
// flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/statefulroute/sfotel/report"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, time.Now))
}

// options are the command line, parsed.
type options struct {
	query   report.FleetQuery
	format  string
	out     string
	rules   []report.Option
	timeout time.Duration
}

// errUsage marks a bad command line: exit status 2.
var errUsage = errors.New("usage")

func parse(args []string, stderr io.Writer, now func() time.Time) (*options, error) {
	fs := flag.NewFlagSet("sfreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: sfreport [flags]\n\nThe sfotel report of every process a Prometheus server scrapes, over a time range.\n\n")
		fs.PrintDefaults()
	}
	prom := fs.String("prometheus", envOr("PROMETHEUS_URL", "http://127.0.0.1:9090"), "the Prometheus server's URL ($PROMETHEUS_URL)")
	selector := fs.String("selector", "", `label matchers added to every query, such as job="router"`)
	since := fs.Duration("since", 15*time.Minute, "the range ends now and starts this long ago (ignored with -start)")
	start := fs.String("start", "", "start of the range, RFC 3339 (with -end)")
	end := fs.String("end", "", "end of the range, RFC 3339 (default now)")
	namespace := fs.String("namespace", "", "the prefix of the exporter's metric names (exporters.WithNamespace)")
	format := fs.String("format", report.FormatText, "text, json or html")
	out := fs.String("o", "", "write the report to this file instead of standard output")
	minSamples := fs.Uint64("min-samples", report.DefaultMinSamples, "calls an operation needs before the rate and latency rules judge it")
	tailRatio := fs.Float64("tail-ratio", report.DefaultTailRatioThreshold, "p99/p50 at or above which tail_latency fires")
	errorRate := fs.Float64("error-rate", report.DefaultErrorRateThreshold, "share of failed calls above which error_rate fires")
	timeout := fs.Duration("timeout", 30*time.Second, "the most the whole report may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	o := &options{
		query:   report.FleetQuery{Prometheus: *prom, Selector: *selector, Namespace: *namespace},
		format:  strings.ToLower(*format),
		out:     *out,
		rules:   []report.Option{report.WithMinSamples(*minSamples), report.WithTailRatioThreshold(*tailRatio), report.WithErrorRateThreshold(*errorRate)},
		timeout: *timeout,
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("%w: -timeout: must be > 0, got %v", errUsage, o.timeout)
	}
	switch o.format {
	case report.FormatText, report.FormatJSON, report.FormatHTML:
	default:
		return nil, fmt.Errorf("%w: -format: unknown value %q; want text, json or html", errUsage, *format)
	}
	o.query.End = now()
	if *end != "" {
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return nil, fmt.Errorf("%w: -end: %v", errUsage, err)
		}
		o.query.End = t
	}
	switch {
	case *start != "":
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return nil, fmt.Errorf("%w: -start: %v", errUsage, err)
		}
		o.query.Start = t
	case *since <= 0:
		return nil, fmt.Errorf("%w: -since: must be > 0, got %v", errUsage, *since)
	default:
		o.query.Start = o.query.End.Add(-*since)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	o, err := parse(args, stderr, now)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		if err != errUsage {
			fmt.Fprintln(stderr, "sfreport:", err)
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r, err := report.FleetReport(ctx, o.query, o.rules...)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no report from %s within -timeout %v", o.query.Prometheus, o.timeout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sfreport:", err)
		return 1
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "sfreport: warning:", w)
	}
	w := stdout
	var f *os.File
	if o.out != "" {
		if f, err = os.Create(o.out); err != nil {
			fmt.Fprintln(stderr, "sfreport:", err)
			return 1
		}
		w = f
	}
	switch o.format {
	case report.FormatJSON:
		err = r.WriteJSON(w)
	case report.FormatHTML:
		err = r.WriteHTML(w)
	default:
		err = r.WriteText(w)
	}
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		fmt.Fprintln(stderr, "sfreport:", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
