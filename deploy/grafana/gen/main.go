// Command gen writes sfotel's Grafana dashboard, deploy/grafana/sfotel.json,
// from the panels defined in dashboard.go. It is a module of its own so the
// root module, which programs import, never requires the Grafana SDK.
//
//	cd deploy/grafana/gen && go run .          # rewrite ../sfotel.json
//	cd deploy/grafana/gen && go test ./...     # fail if it is out of date
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("out", "../sfotel.json", "where to write the dashboard")
	flag.Parse()
	b, err := dashboardJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
