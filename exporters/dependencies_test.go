package exporters

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestDependenciesDocumented: every module the root go.mod requires
// directly is named (in backquotes) in docs/dependencies.md, which says why
// it is there.
func TestDependenciesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/dependencies.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inRequire, direct := false, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "require (":
			inRequire = true
			continue
		case line == ")":
			inRequire = false
			continue
		}
		if !inRequire || strings.HasSuffix(line, "// indirect") || line == "" {
			continue
		}
		mod := strings.Fields(line)[0]
		direct++
		if !strings.Contains(string(doc), "`"+mod+"`") {
			t.Errorf("go.mod requires %s directly; docs/dependencies.md does not say why", mod)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if direct < 10 {
		t.Fatalf("found only %d direct requirements in go.mod: the parser is wrong", direct)
	}
}
