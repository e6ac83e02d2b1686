package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

type config struct {
	redisAddr     string
	duration      time.Duration
	interval      time.Duration
	warmup        time.Duration
	uids          int
	workers       int
	services      int
	stateTTL      time.Duration
	heapTolerance float64
	heapProfile   string // file name prefix; "" writes none
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	fs.StringVar(&c.redisAddr, "redis", addr, "Redis address (default $REDIS_ADDR, else 127.0.0.1:6379)")
	fs.DurationVar(&c.duration, "duration", 5*time.Minute, "how long to run")
	fs.DurationVar(&c.interval, "interval", 10*time.Second, "time between samples")
	fs.DurationVar(&c.warmup, "warmup", 30*time.Second, "samples before this are printed but left out of the verdict")
	fs.IntVar(&c.uids, "uids", 1_000_000, "distinct uids to churn through")
	fs.IntVar(&c.workers, "workers", 50, "concurrent workers")
	fs.IntVar(&c.services, "services", 4, "services the users are spread over")
	fs.DurationVar(&c.stateTTL, "state-ttl", time.Second, "WithStateCache TTL (0 turns the cache off)")
	fs.Float64Var(&c.heapTolerance, "heap-tolerance", 0.10, "largest allowed growth of the live heap after warm-up: median of the last third of the samples over median of the first third, minus 1")
	fs.StringVar(&c.heapProfile, "heapprofile", "", "write heap profiles `prefix`-first.pb.gz (first sample after the warm-up) and prefix-last.pb.gz (last sample);\ncompare them with go tool pprof -base prefix-first.pb.gz prefix-last.pb.gz")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.duration <= 0:
		return c, fmt.Errorf("-duration must be positive")
	case c.interval <= 0 || c.interval > c.duration:
		return c, fmt.Errorf("-interval must be positive and at most -duration")
	case c.warmup < 0 || c.warmup+2*c.interval > c.duration:
		return c, fmt.Errorf("-warmup must leave at least two samples before -duration ends")
	case c.uids < 16:
		return c, fmt.Errorf("-uids must be at least 16")
	case c.workers < 1:
		return c, fmt.Errorf("-workers must be at least 1")
	case c.services < 1:
		return c, fmt.Errorf("-services must be at least 1")
	case c.heapTolerance <= 0:
		return c, fmt.Errorf("-heap-tolerance must be positive")
	}
	return c, nil
}
