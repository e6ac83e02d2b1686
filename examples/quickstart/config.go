package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/statefulroute/sfotel/exporters/httpauth"
)

// config is what the command line asks for.
type config struct {
	redisAddrs   []string      // empty: the embedded miniredis
	namespace    string        // key namespace of this run
	duration     time.Duration // 0: until SIGINT/SIGTERM
	linger       time.Duration // keep serving after the final report
	workers      int
	users        int
	pods         int
	listen       string // "" disables the HTTP server
	otlpEndpoint string // "" disables OTLP
	reportFormat string // text, json or html
	reportOut    string // "" prints the report to stdout
	commandSpans bool
	autoPipeline bool          // otelexec.WithAutoPipelining
	progress     time.Duration // 0 disables progress lines
	keepKeys     bool
	exemplars    bool   // serve OpenMetrics, with exemplars, to a scraper that asks
	pprof        bool   // serve /debug/pprof/
	tokenFile    string // "" leaves the HTTP server open
	bearerToken  string // read from tokenFile by parseFlags

	// onListen, when set, is told the HTTP server's address; tests listen on
	// port 0 and need to know where.
	onListen func(addr string)
}

// validNamespace is the executor's rule for namespaces (docs/design.md).
var validNamespace = regexp.MustCompile(`^[A-Za-z0-9._-]{1,512}$`)

var reportFormats = []string{"text", "json", "html"}

// parseFlags reads the command line; getenv supplies the defaults that come
// from the environment (REDIS_ADDR, OTEL_EXPORTER_OTLP_ENDPOINT).
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var (
		cfg   config
		redis string
	)
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: quickstart [flags]\n\n"+
			"Simulates a stateful router on the sfotel executor and shows its telemetry:\n"+
			"/metrics, /debug/report and /debug/pprof/ on -listen, OTLP with -otlp,\n"+
			"a progress line every few seconds and a report at the end.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&redis, "redis", getenv("REDIS_ADDR"), "Redis `address` (host:port; comma-separated for a cluster); default $REDIS_ADDR, else an embedded miniredis")
	fs.StringVar(&cfg.namespace, "namespace", "", "key `namespace` of this run (default: quickstart-<random>)")
	fs.DurationVar(&cfg.duration, "duration", 15*time.Second, "how long the workload runs; 0 runs until Ctrl-C")
	fs.DurationVar(&cfg.linger, "linger", 0, "after the final report, keep serving /metrics this long (or until Ctrl-C), so a scraper sees the final values")
	fs.IntVar(&cfg.workers, "workers", 8, "concurrent router goroutines")
	fs.IntVar(&cfg.users, "users", 1000, "simulated users")
	fs.IntVar(&cfg.pods, "pods", 8, "pods per service")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:9464", "HTTP `address` for /metrics, /debug/report and /debug/pprof/; empty disables it")
	fs.StringVar(&cfg.otlpEndpoint, "otlp", getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTLP `endpoint` for traces and metrics (e.g. http://127.0.0.1:4318; http/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL=grpc); default $OTEL_EXPORTER_OTLP_ENDPOINT, else none")
	fs.StringVar(&cfg.reportFormat, "report", "text", "final report `format`: text, json or html")
	fs.StringVar(&cfg.reportOut, "report-out", "", "write the final report to this `file` instead of stdout")
	fs.BoolVar(&cfg.commandSpans, "command-spans", false, "add a child span per Redis command (redisinstr) under each operation span")
	fs.BoolVar(&cfg.autoPipeline, "autopipeline", true, "send the executor's commands through go-redis automatic pipelining while several are in flight (otelexec.WithAutoPipelining, on by default); -autopipeline=false, or -command-spans, sends them directly")
	fs.DurationVar(&cfg.progress, "progress", 3*time.Second, "interval of the progress line; 0 disables it")
	fs.BoolVar(&cfg.keepKeys, "keep-keys", false, "leave this run's keys in Redis instead of deleting them at exit")
	fs.BoolVar(&cfg.exemplars, "exemplars", true, "serve /metrics as OpenMetrics, with exemplars (the trace ID of a sampled call on its latency bucket), to a scraper that asks for it; false serves the classic text format only")
	fs.BoolVar(&cfg.pprof, "pprof", true, "serve Go profiles on /debug/pprof/")
	fs.StringVar(&cfg.tokenFile, "bearer-token-file", "", "ask every HTTP request for \"Authorization: Bearer <token>\", the token read from this `file` (white space around it is trimmed, as Prometheus's credentials_file does)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if redis = strings.TrimSpace(redis); redis != "" {
		for _, a := range strings.Split(redis, ",") {
			cfg.redisAddrs = append(cfg.redisAddrs, strings.TrimSpace(a))
		}
	}
	return cfg, cfg.validate()
}

// validate names the flag that is wrong, so a typo never turns into a
// confusing Redis or network error later.
func (c *config) validate() error {
	var errs []error
	for _, a := range c.redisAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("-redis: %q is not host:port: %w", a, err))
		}
	}
	if c.duration < 0 {
		errs = append(errs, fmt.Errorf("-duration: %v is negative", c.duration))
	}
	if c.linger < 0 {
		errs = append(errs, fmt.Errorf("-linger: %v is negative", c.linger))
	}
	if c.workers < 1 || c.workers > 10000 {
		errs = append(errs, fmt.Errorf("-workers: %d is outside 1..10000", c.workers))
	}
	if c.users < 1 || c.users > 10_000_000 {
		errs = append(errs, fmt.Errorf("-users: %d is outside 1..10000000", c.users))
	}
	if c.pods < 1 || c.pods > 10000 {
		errs = append(errs, fmt.Errorf("-pods: %d is outside 1..10000", c.pods))
	}
	if c.listen != "" {
		if _, _, err := net.SplitHostPort(c.listen); err != nil {
			errs = append(errs, fmt.Errorf("-listen: %q is not host:port: %w", c.listen, err))
		}
	}
	if c.users < c.workers {
		errs = append(errs, fmt.Errorf("-users: %d is fewer than -workers %d; each worker needs users of its own", c.users, c.workers))
	}
	if c.namespace != "" && !validNamespace.MatchString(c.namespace) {
		errs = append(errs, fmt.Errorf("-namespace: %q must be 1-512 bytes of [A-Za-z0-9._-]", c.namespace))
	}
	if !slices.Contains(reportFormats, c.reportFormat) {
		errs = append(errs, fmt.Errorf("-report: %q is not one of %s", c.reportFormat, strings.Join(reportFormats, ", ")))
	}
	if c.progress < 0 {
		errs = append(errs, fmt.Errorf("-progress: %v is negative", c.progress))
	}
	if c.tokenFile != "" {
		if c.listen == "" {
			errs = append(errs, errors.New("-bearer-token-file: there is no HTTP server to protect (-listen is empty)"))
		}
		tok, err := readToken(c.tokenFile)
		if err == nil {
			// The same check the server's protection makes, now rather
			// than after Redis and telemetry are set up.
			_, err = httpauth.Protect(http.NotFoundHandler(), httpauth.WithBearerToken(tok))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("-bearer-token-file: %w", err))
		}
		c.bearerToken = tok
	}
	return errors.Join(errs...)
}

// readToken reads a bearer token from path. The white space around it (the
// newline an editor or echo leaves) is trimmed, as Prometheus trims the file
// of its credentials_file, so the two agree on the token. An empty file, or
// one holding more than one line, is refused: that token could never match.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", fmt.Errorf("%s holds no token", path)
	case strings.ContainsAny(tok, "\r\n"):
		return "", fmt.Errorf("%s holds more than one line; want the token alone", path)
	}
	return tok, nil
}
