package diagnose

import (
	"cmp"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/report"
)

// form is how much of the suite a run does: DIAGNOSE=short (CI: each
// scenario's operator-visible size) or full (both sizes, longer windows,
// advice applied and measured). Unset, the suite is skipped: it takes
// minutes.
type form struct {
	sizes   int
	repeats int
	timing  timing
	advice  bool
	fleet   bool // compare the fleet report, from a real Prometheus
}

var forms = map[string]form{
	"short": {sizes: 1, repeats: 2, timing: timing{warm: 5 * time.Second, window: 5 * time.Second}},
	"full":  {sizes: 2, repeats: 3, timing: timing{warm: 5 * time.Second, window: 10 * time.Second}, advice: true, fleet: true},
}

// verdict is a report's first finding, as scenarios name them.
func verdict(r *report.Report) string {
	if len(r.Suggestions) == 0 {
		return none
	}
	s := r.Suggestions[0]
	if s.Cause != "" {
		return s.ID + "/" + s.Cause
	}
	return s.ID
}

// row is one line of the confusion table.
type row struct {
	scenario, size string
	want           []string
	verdicts       []string
	fleet          []string // the fleet report's verdicts, full form
	advice         string
}

func (r row) right() int {
	n := 0
	for _, v := range r.verdicts {
		if slices.Contains(r.want, v) {
			n++
		}
	}
	return n
}

func (r row) stable() bool {
	return !slices.ContainsFunc(r.verdicts, func(v string) bool { return v != r.verdicts[0] })
}

// TestDiagnosis runs every scenario and writes the confusion table to
// $DIAGNOSE_OUT (default: the test log). DIAGNOSE_ONLY, a regexp, picks
// scenarios by name.
func TestDiagnosis(t *testing.T) {
	f, ok := forms[os.Getenv("DIAGNOSE")]
	if !ok {
		t.Skip("set DIAGNOSE=short or DIAGNOSE=full (scripts/diagnose.sh)")
	}
	only := regexp.MustCompile(os.Getenv("DIAGNOSE_ONLY"))
	var pm *prom
	if f.fleet {
		pm = startProm(t)
	}
	var rows []row
	for _, sc := range scenarios {
		if !only.MatchString(sc.name) || (sc.full && f.sizes < 2) {
			continue
		}
		for _, sz := range sc.sizes[:min(f.sizes, len(sc.sizes))] {
			rw := row{scenario: sc.name, size: sz.label, want: sc.want}
			var first *report.Report
			for i := range f.repeats {
				var r, fr *report.Report
				t.Run(fmt.Sprintf("%s/%s/%d", sc.name, sz.label, i), func(t *testing.T) {
					r, fr = run(t, f.timing, sz.setup, sc.proxy, sz.inject, pm)
					if fr != nil {
						t.Logf("fleet verdict %s", verdict(fr))
						if len(fr.Suggestions) > 0 {
							t.Logf("fleet: %s", fr.Suggestions[0].Message)
						}
					}
					v := verdict(r)
					t.Logf("verdict %s", v)
					var all []string
					for _, s := range r.Suggestions {
						all = append(all, strings.TrimSuffix(s.ID+"/"+s.Cause, "/"))
					}
					t.Logf("findings %s", strings.Join(all, ", "))
					if sc.must != "" && !slices.ContainsFunc(r.Suggestions, func(s report.Suggestion) bool { return s.ID == sc.must }) {
						t.Errorf("%s is not among the findings %v", sc.must, r.Suggestions)
					}
					if v != none {
						t.Logf("%s", r.Suggestions[0].Message)
					}
					logFigures(t, r)
				})
				if r == nil {
					rw.verdicts = append(rw.verdicts, "failed")
					continue
				}
				if first == nil {
					first = r
				}
				rw.verdicts = append(rw.verdicts, verdict(r))
				if fr != nil {
					rw.fleet = append(rw.fleet, verdict(fr))
				}
			}
			if f.advice && first != nil && len(first.Suggestions) > 0 && rw.right() == len(rw.verdicts) {
				rw.advice = prove(t, f, sc, sz, first)
			}
			rows = append(rows, rw)
		}
	}
	table := confusion(rows)
	if out := os.Getenv("DIAGNOSE_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("\n%s", table)
	for _, rw := range rows {
		if rw.right() != len(rw.verdicts) {
			t.Errorf("%s (%s): verdicts %v, want one of %v", rw.scenario, rw.size, rw.verdicts, rw.want)
		}
	}
}

// prove applies the knob the first finding advises, with the value it
// derived, runs the scenario again and says how the figure the finding
// judged changed: the share of calls that waited for a connection for
// PoolSize, the GC's share of the CPU for GOGC, ComputeLinkedPod's p50 for
// the state cache; the hot path's p99 is shown beside it. Advice must cut
// its figure by at least half; findings without a knob are hints and are
// not measured.
func prove(t *testing.T, f form, sc scenario, sz size, before *report.Report) string {
	s := before.Suggestions[0]
	su := sz.setup
	var name string
	var figure func(*report.Report) float64
	switch s.Knob {
	case "PoolSize":
		su.poolSize = int(s.Value)
		name, figure = "calls that waited for a connection", waitShare
	case "GOGC":
		su.gogc = int(s.Value)
		name, figure = "GC share of CPU", gcShare
	case "WithStateCache":
		su.stateCache = time.Duration(s.Value * float64(time.Second))
		name, figure = "ComputeLinkedPod p50", opFigure(contract.OpComputeLinkedPod, p50)
	default:
		return "hint (no knob)"
	}
	var after *report.Report
	t.Run(fmt.Sprintf("%s/%s/advice", sc.name, sz.label), func(t *testing.T) {
		after, _ = run(t, f.timing, su, sc.proxy, sz.inject, nil)
		logFigures(t, after)
	})
	if after == nil {
		return "advice run failed"
	}
	b, a := figure(before), figure(after)
	cut := 1 - a/b
	show := ms
	if s.Knob != "WithStateCache" {
		show = pct
	}
	if cut < 0.5 {
		t.Errorf("%s: %s=%v cut %s by %.0f%% only (%s → %s)", sc.name, s.Knob, s.Value, name, 100*cut, show(b), show(a))
	}
	return fmt.Sprintf("%s=%v: %s %s → %s (−%.0f%%); GetLinkedPod p99 %s → %s", s.Knob, s.Value, name, show(b), show(a), 100*cut,
		ms(p99(before.Operation(contract.OpGetLinkedPod.String()))), ms(p99(after.Operation(contract.OpGetLinkedPod.String()))))
}

func gcShare(r *report.Report) float64 {
	if r.Runtime == nil || r.Runtime.GC == nil {
		return 0
	}
	return r.Runtime.GC.CPUShare
}

func waitShare(r *report.Report) float64 {
	var calls uint64
	for _, op := range r.Operations {
		calls += op.Count
	}
	return float64(r.Redis.Pool.Waits) / float64(max(calls, 1))
}

func opFigure(op contract.Op, f func(*report.Operation) float64) func(*report.Report) float64 {
	return func(r *report.Report) float64 { return f(r.Operation(op.String())) }
}

func p50(op *report.Operation) float64 { return op.P50Seconds }
func p99(op *report.Operation) float64 { return op.P99Seconds }
func ms(s float64) string              { return fmt.Sprintf("%.2f ms", s*1e3) }
func pct(v float64) string             { return fmt.Sprintf("%.1f%%", v*100) }

// logFigures logs what decides a verdict, for whoever tunes a rule.
func logFigures(t *testing.T, r *report.Report) {
	for _, op := range r.Operations {
		t.Logf("%-22s %6d calls %5d errors  p50 %8.3fms  p90 %8.3fms  p99 %8.3fms", op.Name, op.Count, op.Errors, op.P50Seconds*1e3, op.P90Seconds*1e3, op.P99Seconds*1e3)
	}
	if rt := r.Runtime; rt != nil && rt.GC != nil {
		t.Logf("gc %.0f/s, %.1f%% of CPU, GOGC %d; sched p99 %.3fms", rt.GC.CyclesPerSecond, 100*rt.GC.CPUShare, rt.GC.GOGC, 1e3*rt.SchedulingLatency.P99Seconds)
	}
	for _, c := range r.Redis.Commands {
		t.Logf("command %-10s %6d  p50 %8.3fms  p99 %8.3fms", c.Name, c.Count, c.P50Seconds*1e3, c.P99Seconds*1e3)
	}
	t.Logf("pool waits %d of max %d, %.3fs", r.Redis.Pool.Waits, r.Redis.Pool.Max, r.Redis.Pool.WaitSeconds)
	if rt := r.Routing; rt != nil {
		t.Logf("routing %d decisions %v, moves %v (%.0f/min)", rt.Decisions, rt.Outcomes, rt.Moves, rt.MovesPerMinute)
		for _, s := range rt.Services {
			t.Logf("service %s: %d live, %d stale, spread %.2f, oldest heartbeat p99 %.2fs", s.Service, s.LivePods, s.StalePods, s.LoadSpread, s.HeartbeatAge.P99Seconds)
		}
	}
	for _, s := range r.Suggestions[min(1, len(r.Suggestions)):] {
		t.Logf("also %s %s", s.ID, s.Cause)
	}
}

func confusion(rows []row) string {
	var b strings.Builder
	b.WriteString("| scenario | injected | verdicts (first finding, each run) | right | same every run | fleet report agrees | advice applied, figure before → after |\n|---|---|---|---|---|---|---|\n")
	right, total, healthyAlarms, healthyRuns, stable, agree, fleetRuns := 0, 0, 0, 0, 0, 0, 0
	for _, rw := range rows {
		fleet := "-"
		if len(rw.fleet) > 0 {
			n := 0
			for i, v := range rw.fleet {
				if v == rw.verdicts[i] {
					n++
				}
			}
			agree += n
			fleetRuns += len(rw.fleet)
			fleet = fmt.Sprintf("%d/%d", n, len(rw.fleet))
			if n < len(rw.fleet) {
				fleet += " (" + strings.Join(rw.fleet, ", ") + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d/%d | %s | %s | %s |\n", rw.scenario, rw.size, strings.Join(rw.verdicts, ", "),
			rw.right(), len(rw.verdicts), yesNo(rw.stable()), fleet, cmp.Or(rw.advice, "-"))
		right += rw.right()
		total += len(rw.verdicts)
		if rw.stable() {
			stable++
		}
		if rw.scenario == "healthy" {
			healthyRuns += len(rw.verdicts)
			healthyAlarms += len(rw.verdicts) - rw.right()
		}
	}
	fmt.Fprintf(&b, "\nRight cause named: %d of %d runs (%.0f%%). False alarms on healthy runs: %d of %d. Same verdict in every repeat: %d of %d rows.\n",
		right, total, 100*float64(right)/float64(max(total, 1)), healthyAlarms, healthyRuns, stable, len(rows))
	if fleetRuns > 0 {
		fmt.Fprintf(&b, "The fleet report (a real Prometheus scraping each run every second) gave the process report's verdict in %d of %d runs.\n", agree, fleetRuns)
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
