package contract

import (
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
)

// TestTelemetryDocListsEveryInstrument keeps docs/telemetry.md in step with
// the instrument definitions: each one's row must name it, its kind and its
// unit.
func TestTelemetryDocListsEveryInstrument(t *testing.T) {
	doc, err := os.ReadFile("../../docs/telemetry.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `") {
			name := strings.SplitN(strings.TrimPrefix(line, "| `"), "`", 2)[0]
			rows[name] = line
		}
	}
	if len(Instruments()) < 20 {
		t.Fatalf("only %d instruments defined", len(Instruments()))
	}
	for _, d := range Instruments() {
		row, ok := rows[d.Name]
		if !ok {
			t.Errorf("docs/telemetry.md has no row for %s", d.Name)
			continue
		}
		if !strings.Contains(row, string(d.Kind)) {
			t.Errorf("docs/telemetry.md: %s is a %s, the row says: %s", d.Name, d.Kind, row)
		}
		if d.Unit != "" && !strings.Contains(row, "`"+d.Unit+"`") {
			t.Errorf("docs/telemetry.md: %s has unit %q, the row says: %s", d.Name, d.Unit, row)
		}
	}
}

// TestSemconvNames: the instruments the conventions define carry dbconv's
// names, so the constants cannot drift from the conventions.
func TestSemconvNames(t *testing.T) {
	for _, c := range []struct{ ours, conv string }{
		{MetricCommandDuration, dbconv.ClientOperationDuration{}.Name()},
		{MetricPoolConnectionCount, dbconv.ClientConnectionCountObservable{}.Name()},
		{MetricPoolMax, dbconv.ClientConnectionMaxObservable{}.Name()},
		{MetricPoolIdleMax, dbconv.ClientConnectionIdleMaxObservable{}.Name()},
		{MetricPoolIdleMin, dbconv.ClientConnectionIdleMinObservable{}.Name()},
		{MetricPoolTimeouts, dbconv.ClientConnectionTimeoutsObservable{}.Name()},
	} {
		if c.ours != c.conv {
			t.Errorf("%q, the conventions say %q", c.ours, c.conv)
		}
	}
}

func TestInstrumentsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Instruments() {
		if seen[d.Name] {
			t.Errorf("instrument %q defined twice", d.Name)
		}
		seen[d.Name] = true
		if d.Description == "" {
			t.Errorf("instrument %q has no description", d.Name)
		}
		if d.Kind == KindHistogram && len(d.Buckets) == 0 {
			t.Errorf("histogram %q has no buckets", d.Name)
		}
	}
}

func TestOperationsAreNamedOnce(t *testing.T) {
	seen := map[string]bool{}
	for op := range NumOps {
		name := op.String()
		if name == "" || seen[name] {
			t.Errorf("operation %d: name %q is empty or used twice", op, name)
		}
		seen[name] = true
	}
}
