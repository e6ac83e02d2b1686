package reliability

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/exporters/httpauth"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/report"
)

// TestHTTPSurfaceProtected serves /metrics, /debug/report and /debug/pprof/
// behind httpauth.Protect on a real loopback listener, after real
// executor traffic, and sends requests with no, wrong and right credentials.
// Refused requests get 401 with a challenge and none of the served content;
// accepted ones get the content.
func TestHTTPSurfaceProtected(t *testing.T) {
	prom, err := exporters.NewPrometheus(exporters.WithGoCollector(false), exporters.WithProcessCollector(false))
	if err != nil {
		t.Fatal(err)
	}
	collector, err := report.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom), sdkmetric.WithReader(collector.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e := newExecutor(t, redistest.Client(t), otelexec.WithMeterProvider(mp))
	ns := redistest.Namespace(t)
	if _, err := e.SetLinkedPod(context.Background(), ns, "u1", "svc", 1, -1); err != nil {
		t.Fatal(err)
	}

	const token, user, password = "s3cret-token", "ops", "pa55word"
	mux := http.NewServeMux()
	mux.Handle("/metrics", prom)
	mux.Handle("/debug/report", report.Handler(collector))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	protected, err := httpauth.Protect(mux, httpauth.WithBearerToken(token), httpauth.WithBasicAuth(user, password))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: protected, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	// What each path serves when the request is allowed.
	content := map[string]string{
		"/metrics":      "stateful_executor_operations_total",
		"/debug/report": "SetLinkedPod",
		"/debug/pprof/": "goroutine",
	}
	type auth struct {
		name string
		set  func(*http.Request)
		ok   bool
	}
	auths := []auth{
		{"none", func(*http.Request) {}, false},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, false},
		{"bearer prefix of token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token[:5]) }, false},
		{"bearer token with suffix", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token+"x") }, false},
		{"token without scheme", func(r *http.Request) { r.Header.Set("Authorization", token) }, false},
		{"wrong basic password", func(r *http.Request) { r.SetBasicAuth(user, "nope") }, false},
		{"basic with the token as password", func(r *http.Request) { r.SetBasicAuth(user, token) }, false},
		{"basic with empty password", func(r *http.Request) { r.SetBasicAuth(user, "") }, false},
		{"token in query", func(r *http.Request) { r.URL.RawQuery = "token=" + token }, false},
		{"right bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, true},
		{"right basic", func(r *http.Request) { r.SetBasicAuth(user, password) }, true},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for path, want := range content {
		for _, a := range auths {
			req, err := http.NewRequest(http.MethodGet, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			a.set(req)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", a.name, path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if a.ok {
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
					t.Errorf("%s on %s: %d, body has %q: %v; want 200 with it", a.name, path, resp.StatusCode, want, strings.Contains(string(body), want))
				}
				continue
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s on %s: status %d, want 401", a.name, path, resp.StatusCode)
			}
			if len(resp.Header.Values("WWW-Authenticate")) == 0 {
				t.Errorf("%s on %s: 401 without a WWW-Authenticate challenge", a.name, path)
			}
			if strings.Contains(string(body), want) {
				t.Errorf("%s on %s: the refused response carries the content", a.name, path)
			}
		}
	}

	// A protection that would let everyone in, or nobody (a token read from
	// a file with its newline), is refused at start-up.
	for name, opts := range map[string][]httpauth.Option{
		"token with a newline":    {httpauth.WithBearerToken("s3cret-token\n")},
		"password with a newline": {httpauth.WithBasicAuth("ops", "pa55word\n")},
		"no credentials":          nil,
		"empty token":             {httpauth.WithBearerToken("")},
		"blank token":             {httpauth.WithBearerToken("  ")},
		"empty password":          {httpauth.WithBasicAuth("ops", "")},
		"empty user":              {httpauth.WithBasicAuth("", "pw")},
		"colon in user":           {httpauth.WithBasicAuth("a:b", "pw")},
		"quote in realm":          {httpauth.WithBearerToken("t"), httpauth.WithRealm(`a"b`)},
		"newline in real":         {httpauth.WithBearerToken("t"), httpauth.WithRealm("a\nb")},
	} {
		if _, err := httpauth.Protect(mux, opts...); err == nil {
			t.Errorf("Protect with %s: no error", name)
		}
	}
}

// TestDefaultListenAddressesLoopback checks that everything sfotel serves
// listens on loopback unless an operator chooses otherwise: the exporters'
// DefaultListenAddr, and the quickstart's -listen flag default, read from its
// source (it is a main package, so it cannot be imported).
func TestDefaultListenAddressesLoopback(t *testing.T) {
	isLoopback := func(addr string) bool {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return false
		}
		ip := net.ParseIP(host)
		return host == "localhost" || ip != nil && ip.IsLoopback()
	}
	if !isLoopback(exporters.DefaultListenAddr) {
		t.Errorf("exporters.DefaultListenAddr = %q, not loopback", exporters.DefaultListenAddr)
	}

	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "..", "..", "examples", "quickstart")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", dir, err)
	}
	found := 0
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 3 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "StringVar" && sel.Sel.Name != "String" {
					return true
				}
				nameArg := call.Args[1]
				if sel.Sel.Name == "String" {
					nameArg = call.Args[0]
				}
				name, ok := nameArg.(*ast.BasicLit)
				if !ok || !strings.Contains(strings.ToLower(name.Value), "listen") {
					return true
				}
				found++
				def := call.Args[2]
				if sel.Sel.Name == "String" {
					def = call.Args[1]
				}
				switch d := def.(type) {
				case *ast.BasicLit:
					v, _ := strconv.Unquote(d.Value)
					if v != "" && !isLoopback(v) {
						t.Errorf("quickstart flag %s defaults to %q, not loopback", name.Value, v)
					}
				case *ast.SelectorExpr: // e.g. exporters.DefaultListenAddr, checked above
					if d.Sel.Name != "DefaultListenAddr" {
						t.Errorf("quickstart flag %s defaults to %s, which this test cannot check", name.Value, d.Sel.Name)
					}
				default:
					t.Errorf("quickstart flag %s has a default this test cannot check: %T", name.Value, def)
				}
				return true
			})
		}
	}
	if found == 0 {
		t.Fatalf("no -listen flag found in %s", dir)
	}
}
