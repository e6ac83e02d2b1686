// Package prometheus holds no code: its test checks rules.yml with promtool.
package prometheus

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// promtool finds promtool, failing where CI (REDIS_REQUIRED=1) installs it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatal("promtool not found and REDIS_REQUIRED=1: install Debian's prometheus package")
		}
		t.Skip("promtool not installed (apt-get install prometheus); set REDIS_REQUIRED=1 to make this a failure")
	}
	return p
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestPromtoolCheckRules(t *testing.T) { run(t, "check", "rules", "rules.yml") }

func TestPromtoolTestRules(t *testing.T) { run(t, "test", "rules", "rules_test.yml") }

// TestEveryAlertTestedBothWays: each alert of rules.yml has, in
// rules_test.yml, a test where it does not fire (exp_alerts: []) and one
// where it fires, so a new alert cannot ship untested.
func TestEveryAlertTestedBothWays(t *testing.T) {
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s+- alert: (\S+)$`).FindAllStringSubmatch(string(rules), -1)
	if len(alerts) < 6 {
		t.Fatalf("found %d alerts in rules.yml", len(alerts))
	}
	// One alert_rule_test entry: alertname, then exp_alerts, empty or a list.
	entry := regexp.MustCompile(`(?m)^\s+alertname: (\S+)\n\s+exp_alerts:( \[\])?$`)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, m := range entry.FindAllStringSubmatch(string(tests), -1) {
		if m[2] == "" {
			fires[m[1]] = true
		} else {
			quiet[m[1]] = true
		}
	}
	for _, a := range alerts {
		if !fires[a[1]] || !quiet[a[1]] {
			t.Errorf("alert %s: tested firing %v, not firing %v; rules_test.yml needs both", a[1], fires[a[1]], quiet[a[1]])
		}
	}
}

// TestRunbookURLs: each alert's runbook_url is the section of
// docs/dashboards.md headed with the alert's name.
func TestRunbookURLs(t *testing.T) {
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/dashboards.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(rules), "- alert: ")[1:]
	if len(blocks) < 6 {
		t.Fatalf("found %d alerts in rules.yml", len(blocks))
	}
	for _, b := range blocks {
		name := strings.Fields(b)[0]
		url := `runbook_url: "docs/dashboards.md#` + strings.ToLower(name) + `"`
		if !strings.Contains(b, url) || !strings.Contains(string(doc), "\n### "+name+"\n") {
			t.Errorf("alert %s: want annotation %s and a section \"### %s\" in docs/dashboards.md", name, url, name)
		}
	}
}
