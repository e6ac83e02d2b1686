//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The dashboard and the rules of deploy/, run against the real Prometheus
// after the quickstart: a query that returns nothing is a broken panel or
// an alert that can never fire, so every one must return data.

const (
	dashboardFile = "../deploy/grafana/sfotel.json"
	rulesFile     = "../deploy/prometheus/rules.yml"
)

// dashboardJSON is the part of a Grafana dashboard the checks read.
type dashboardJSON struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr     string `json:"expr"`
			Exemplar bool   `json:"exemplar"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboardJSON {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// grafanaVars stands in for Grafana's template variables: the dashboard
// looking at the first quickstart, every operation, a one-minute rate.
func grafanaVars(t *testing.T) *strings.Replacer {
	t.Helper()
	u, err := url.Parse(env(t, "SFOTEL_E2E_QUICKSTART_URL"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(
		"$job", quickstartJob,
		"$instance", u.Host, // a regex; its dots match themselves too
		"$operation", ".*",
		"$__rate_interval", "1m",
	)
}

// badQuery reports, and fails t for, an error Prometheus gives a query it
// cannot parse: that never gets better by waiting.
func badQuery(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "400 Bad Request") {
		t.Error(err)
		return true
	}
	return false
}

// promExemplars runs an exemplar query over the last hour and returns the
// exemplars by series.
type exemplarSeries struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []struct {
		Labels map[string]string `json:"labels"`
		Value  string            `json:"value"`
	} `json:"exemplars"`
}

func promExemplars(base, query string) ([]exemplarSeries, error) {
	now := time.Now()
	q := url.Values{
		"query": {query},
		"start": {fmt.Sprint(now.Add(-time.Hour).Unix())},
		"end":   {fmt.Sprint(now.Add(time.Minute).Unix())},
	}
	var resp struct {
		Status string           `json:"status"`
		Data   []exemplarSeries `json:"data"`
		Error  string           `json:"error"`
	}
	if err := getJSON(base+"/api/v1/query_exemplars?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("exemplar query %s: %s", query, resp.Error)
	}
	return resp.Data, nil
}

// TestDashboardQueriesReturnData: every panel's PromQL and every template
// variable's label_values query finds series in Prometheus, and the
// exemplar queries find exemplars.
func TestDashboardQueriesReturnData(t *testing.T) {
	prom := env(t, "SFOTEL_E2E_PROMETHEUS_URL")
	vars := grafanaVars(t)
	d := loadDashboard(t)

	labelValues := regexp.MustCompile(`^label_values\((.+), (\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Query)
			continue
		}
		t.Run("variable "+v.Name, func(t *testing.T) {
			match := vars.Replace(m[1])
			poll(t, "values of "+v.Name, func() (bool, string) {
				var resp struct {
					Data []string `json:"data"`
				}
				u := prom + "/api/v1/label/" + m[2] + "/values?" + url.Values{"match[]": {match}}.Encode()
				if err := getJSON(u, &resp); err != nil {
					return badQuery(t, err), err.Error()
				}
				return len(resp.Data) > 0, fmt.Sprintf("label_values(%s, %s) is empty", match, m[2])
			})
		})
	}

	panels := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, target := range p.Targets {
			expr := vars.Replace(target.Expr)
			t.Run(fmt.Sprintf("%s/%d", p.Title, i), func(t *testing.T) {
				poll(t, "panel "+p.Title, func() (bool, string) {
					v, err := promVector(prom, expr)
					if err != nil {
						return badQuery(t, err), err.Error()
					}
					return len(v) > 0, "no data for " + expr
				})
				if !target.Exemplar {
					return
				}
				poll(t, "exemplars of panel "+p.Title, func() (bool, string) {
					ex, err := promExemplars(prom, expr)
					if err != nil {
						return badQuery(t, err), err.Error()
					}
					return len(ex) > 0, "no exemplars for " + expr
				})
			})
		}
	}
	if panels < 10 {
		t.Errorf("%s has %d panels", dashboardFile, panels)
	}
}

// Prometheus's /api/v1/rules, the part the checks read.
type rulesResponse struct {
	Data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Query     string `json:"query"`
				Type      string `json:"type"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				State     string `json:"state"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

// alertSignal splits an alert's expression into what it compares and the
// threshold: rules.yml writes every alert as `<signal> <op> <number>`.
var alertSignal = regexp.MustCompile(`^(.*\S)\s+(?:>|<|>=|<=|==|!=)\s+(?:bool\s+)?-?[0-9.]+(?:e[+-]?[0-9]+)?$`)

// TestRulesEvaluateWithData: Prometheus loaded every rule of
// deploy/prometheus/rules.yml and evaluates each without error; every
// recording rule's expression and recorded series has data, and so has
// every alert's signal (its expression without the threshold), so each
// alert reads real series and can fire.
func TestRulesEvaluateWithData(t *testing.T) {
	prom := env(t, "SFOTEL_E2E_PROMETHEUS_URL")
	src, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	want := len(regexp.MustCompile(`(?m)^\s+- (record|alert): `).FindAllIndex(src, -1))

	var rules rulesResponse
	poll(t, "every rule evaluated once", func() (bool, string) {
		rules = rulesResponse{}
		if err := getJSON(prom+"/api/v1/rules", &rules); err != nil {
			return false, err.Error()
		}
		n, pending := 0, []string{}
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" {
					pending = append(pending, fmt.Sprintf("%s: health %q %s", r.Name, r.Health, r.LastError))
				}
			}
		}
		if n != want {
			return false, fmt.Sprintf("Prometheus has %d rules, %s has %d", n, rulesFile, want)
		}
		return len(pending) == 0, strings.Join(pending, "\n")
	})

	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			t.Run(r.Name, func(t *testing.T) {
				queries := []string{r.Query}
				switch r.Type {
				case "recording":
					queries = append(queries, r.Name)
				case "alerting":
					m := alertSignal.FindStringSubmatch(r.Query)
					if m == nil {
						t.Fatalf("alert %s: %q is not `<signal> <comparison> <number>`; write it so, so the e2e can check its signal", r.Name, r.Query)
					}
					queries = []string{m[1]}
					t.Logf("%s is %s", r.Name, r.State)
				}
				for _, q := range queries {
					poll(t, r.Name, func() (bool, string) {
						v, err := promVector(prom, q)
						if err != nil {
							return badQuery(t, err), err.Error()
						}
						return len(v) > 0, "no data for " + q
					})
				}
			})
		}
	}
}
