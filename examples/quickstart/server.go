package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/statefulroute/sfotel/exporters/httpauth"
)

// serverTimeouts bound what one client can hold: a slow request header,
// a request body, a response, an idle keep-alive connection.
type serverTimeouts struct {
	readHeader, read, write, idle time.Duration
}

// defaultTimeouts: requests have no body, so reading one is quick; a
// response (a scrape, a report) is written well within 30 s, and
// net/http/pprof extends the write deadline by the ?seconds= a profile or
// trace asks for; an idle keep-alive connection is kept a little longer
// than the usual one-minute scrape interval, so a scraper reuses it, and
// then closed, so idle clients cannot pile up.
var defaultTimeouts = serverTimeouts{
	readHeader: 5 * time.Second,
	read:       10 * time.Second,
	write:      30 * time.Second,
	idle:       90 * time.Second,
}

// server serves the run's telemetry and profiles on the listen address.
type server struct {
	http *http.Server
	addr string
	done chan error
}

// serverConfig is what startServer serves and how.
type serverConfig struct {
	listen          string
	metrics, report http.Handler
	pprof           bool
	// bearerToken, when non-empty, is the token every path asks for.
	bearerToken string
	timeouts    serverTimeouts
}

// startServer listens first, so a bad or busy address is a start-up error.
func startServer(c serverConfig) (*server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.metrics)
	mux.Handle("GET /debug/report", c.report)
	links := `<li><a href="/metrics">/metrics</a> (Prometheus)</li>` +
		`<li><a href="/debug/report?format=html">/debug/report</a> (?format=html, text or json)</li>`
	if c.pprof {
		// net/http/pprof registers on http.DefaultServeMux when imported;
		// the handlers are mounted here explicitly so nothing depends on
		// that global, and so they sit behind the same protection.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		links += `<li><a href="/debug/pprof/">/debug/pprof/</a></li>`
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>sfotel quickstart</title><h1>sfotel quickstart</h1><ul>` + links + `</ul>`))
	})
	var handler http.Handler = mux
	if c.bearerToken != "" {
		h, err := httpauth.Protect(mux, httpauth.WithBearerToken(c.bearerToken))
		if err != nil {
			return nil, err
		}
		handler = h
	}

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return nil, err
	}
	s := &server{
		http: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: c.timeouts.readHeader,
			ReadTimeout:       c.timeouts.read,
			WriteTimeout:      c.timeouts.write,
			IdleTimeout:       c.timeouts.idle,
			MaxHeaderBytes:    16 << 10,
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
