package contract

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestTelemetryDocListsEveryInstrument keeps docs/telemetry.md in step with
// this package: every Metric* constant must be documented by its OTel name.
func TestTelemetryDocListsEveryInstrument(t *testing.T) {
	doc, err := os.ReadFile("../../docs/telemetry.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Metric") || i >= len(spec.Values) {
				continue
			}
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			value, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			found++
			if !strings.Contains(string(doc), "`"+value+"`") {
				t.Errorf("docs/telemetry.md does not document %s (%q)", name.Name, value)
			}
		}
		return true
	})
	if found < 20 {
		t.Fatalf("found only %d Metric constants in names.go; the parser walk is broken", found)
	}
}

// TestOperationsAreUnique guards the Operations list, whose order indexes
// the executor's telemetry tables.
func TestOperationsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, op := range Operations {
		if seen[op] {
			t.Errorf("operation %q listed twice", op)
		}
		seen[op] = true
	}
	if len(Operations) != 15 {
		t.Errorf("len(Operations) = %d, want the 15 executor methods", len(Operations))
	}
}
