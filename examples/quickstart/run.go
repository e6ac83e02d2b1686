package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/report"
)

// shutdownTimeout bounds the final flush: a collector that is down costs
// lost telemetry, not a hung exit.
const shutdownTimeout = 10 * time.Second

// run is the whole quickstart: it returns when the workload is over, the
// report written and everything flushed and closed. ctx ends the workload
// early (SIGINT/SIGTERM) and ends the linger period.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	b, err := openRedis(ctx, cfg.redisAddrs)
	if err != nil {
		return err
	}
	defer b.close()

	tel, err := setupTelemetry(ctx, cfg, b, logger)
	if err != nil {
		return err
	}
	// Flushing happens on every way out, with a fresh deadline: ctx may be
	// canceled already.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if serr := tel.shutdown(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("flush telemetry: %w", serr))
		}
	}()

	exec, err := otelexec.New(b.client, append(tel.executorOptions(logger), otelexec.WithAutoPipelining(cfg.autoPipeline))...)
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	defer exec.Close()
	// Fail fast on a Redis that refuses the scripts, within a deadline.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = exec.LoadScripts(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}

	if cfg.listen != "" {
		srv, err := startServer(serverConfig{
			listen:      cfg.listen,
			metrics:     tel.exporters.Prometheus(),
			report:      report.Handler(tel.report),
			pprof:       cfg.pprof,
			bearerToken: cfg.bearerToken,
			timeouts:    defaultTimeouts,
		})
		if err != nil {
			return fmt.Errorf("-listen: %w", err)
		}
		defer func() { err = errors.Join(err, srv.shutdown(context.WithoutCancel(ctx))) }()
		line := fmt.Sprintf("serving http://%[1]s/metrics  http://%[1]s/debug/report", srv.addr)
		if cfg.pprof {
			line += fmt.Sprintf("  http://%s/debug/pprof/", srv.addr)
		}
		if cfg.bearerToken != "" {
			line += "  (bearer token required)"
		}
		fmt.Fprintln(stdout, line)
		if cfg.onListen != nil {
			cfg.onListen(srv.addr)
		}
	}
	switch {
	case tel.exporters.Disabled():
		fmt.Fprintln(stdout, "OTEL_SDK_DISABLED=true: no telemetry is recorded or sent")
	case cfg.otlpEndpoint != "":
		fmt.Fprintf(stdout, "sending traces and metrics over OTLP to %s\n", cfg.otlpEndpoint)
	}

	namespace := cfg.namespace
	if namespace == "" {
		namespace = "quickstart-" + randomHex(4)
	}
	if b.embedded == nil && !cfg.keepKeys {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			defer cancel()
			if derr := deleteNamespace(dctx, b.client, namespace); derr != nil {
				err = errors.Join(err, fmt.Errorf("delete the run's keys (namespace %s): %w", namespace, derr))
			}
		}()
	}

	w := newWorkload(exec, logger, namespace, cfg.workers, cfg.users, cfg.pods)
	until := "until Ctrl-C"
	if cfg.duration > 0 {
		until = "for " + cfg.duration.String()
	}
	fmt.Fprintf(stdout, "simulating %d users on %d services × %d pods with %d workers, namespace %s, on %s, %s\n",
		cfg.users, len(services), cfg.pods, cfg.workers, namespace, b.description, until)

	w.runFor(ctx, cfg.duration, func(runCtx context.Context) {
		if cfg.progress > 0 {
			progress(runCtx, cfg.progress, tel.report, stdout)
		}
	})

	// The workload has stopped, so this snapshot holds the final counts,
	// the same ones /metrics and OTLP show from now on.
	final, err := tel.report.Snapshot(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("final report: %w", err)
	}
	if err := writeReport(final.Report(), cfg.reportFormat, cfg.reportOut, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "done:", w.stats.summary())

	if cfg.linger > 0 && cfg.listen != "" && ctx.Err() == nil {
		fmt.Fprintf(stdout, "serving the final metrics for %s more (Ctrl-C to stop)\n", cfg.linger)
		select {
		case <-ctx.Done():
		case <-time.After(cfg.linger):
		}
	}

	if n, m := w.stats.errors.Load(), w.stats.mismatches.Load(); n > 0 || m > 0 {
		return fmt.Errorf("%d of %d executor calls failed and %d lookups disagreed with the links made; a healthy run has none", n, w.stats.calls.Load(), m)
	}
	return nil
}

// runFor runs the workload until ctx ends or d passes (d = 0: until ctx
// ends), with side running alongside on the same deadline.
func (w *workload) runFor(ctx context.Context, d time.Duration, side func(context.Context)) {
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if d > 0 {
		runCtx, cancel = context.WithTimeout(ctx, d)
	}
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { side(runCtx) })
	w.run(runCtx)
	cancel()
	wg.Wait()
}

// writeReport prints the report, or writes it to path atomically, so a
// reader polling for the file never sees half of it.
func writeReport(r *report.Report, format, path string, stdout io.Writer) error {
	write := map[string]func(io.Writer) error{
		"text": r.WriteText,
		"json": r.WriteJSON,
		"html": r.WriteHTML,
	}[format]
	if path == "" {
		return write(stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("-report-out: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if err := errors.Join(write(f), f.Chmod(0o644), f.Close()); err != nil {
		return fmt.Errorf("-report-out: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("-report-out: %w", err)
	}
	fmt.Fprintf(stdout, "report written to %s\n", path)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
