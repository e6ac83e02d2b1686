// Command kratos is a stateful router as a go-kratos v2 service: HTTP and
// gRPC endpoints to log a user in (ComputeLinkedPod), look the user's pod up
// and log out, over sfotel's executor, with Kratos' and sfotel's telemetry
// on one set of providers and one /metrics.
//
//	go run . -conf configs/config.yaml
//
// See README.md beside this file and docs/kratos.md in the repository.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/go-kratos/kratos/v2/config"
	"github.com/go-kratos/kratos/v2/config/file"
	"github.com/go-kratos/kratos/v2/log"

	"github.com/statefulroute/sfotel/examples/kratos/internal/conf"
	"github.com/statefulroute/sfotel/exporters"
)

func main() {
	confPath := flag.String("conf", "configs/config.yaml", "config file or directory")
	flag.Parse()
	if err := mainErr(*confPath); err != nil {
		fmt.Fprintln(os.Stderr, "kratos-router:", err)
		os.Exit(1)
	}
}

func mainErr(confPath string) error {
	logger := newLogger(os.Stdout)
	// Kratos' own lines (servers, config) go to its global logger. Set it
	// once, before anything logs: kratos.Logger would set it again in
	// kratos.New, racing with the config watcher's goroutine.
	log.SetLogger(logger)
	c, err := loadConfig(confPath)
	if err != nil {
		return err
	}
	r, err := newRouter(context.Background(), c, logger, exporters.WithGlobal())
	if err != nil {
		return err
	}
	return r.run()
}

// loadConfig reads the configuration as the Kratos layout does: a file
// source scanned into the Bootstrap message (YAML to protojson, so
// durations are written "0.2s").
func loadConfig(path string) (*conf.Bootstrap, error) {
	c := config.New(config.WithSource(file.NewSource(path)))
	defer c.Close()
	if err := c.Load(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var bc conf.Bootstrap
	if err := c.Scan(&bc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if bc.GetRouter().GetPods() <= 0 || bc.GetRouter().GetHeartbeat().AsDuration() <= 0 || bc.GetRouter().GetAliveWithin().AsDuration() <= 0 {
		return nil, fmt.Errorf("config %s: router.pods, router.heartbeat and router.alive_within must be > 0", path)
	}
	return &bc, nil
}
