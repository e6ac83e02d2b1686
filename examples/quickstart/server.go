package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// server serves the run's telemetry and profiles on the listen address.
type server struct {
	http *http.Server
	addr string
	done chan error
}

// startServer listens first, so a bad or busy address is a start-up error.
func startServer(listen string, metrics, report http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.Handle("GET /debug/report", report)
	// net/http/pprof registers on http.DefaultServeMux when imported; the
	// handlers are mounted here explicitly so nothing depends on that global.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>sfotel quickstart</title><h1>sfotel quickstart</h1><ul>` +
			`<li><a href="/metrics">/metrics</a> (Prometheus)</li>` +
			`<li><a href="/debug/report?format=html">/debug/report</a> (?format=html, text or json)</li>` +
			`<li><a href="/debug/pprof/">/debug/pprof/</a></li></ul>`))
	})
	s := &server{
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
		},
		addr: ln.Addr().String(),
		done: make(chan error, 1),
	}
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// shutdown lets in-flight requests (a scrape, a profile) finish for a
// moment, then closes.
func (s *server) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
		return err
	}
	return <-s.done
}
