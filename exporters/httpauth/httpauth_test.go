package httpauth

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("secret metrics"))
})

func TestProtect(t *testing.T) {
	h, err := Protect(okHandler,
		WithBearerToken("tok-1"), WithBearerToken("tok-2"),
		WithBasicAuth("prom", "p4ss"))
	if err != nil {
		t.Fatal(err)
	}
	basic := func(u, p string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(u, p) }
	}
	header := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	cases := []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"no credentials", func(*http.Request) {}, http.StatusUnauthorized},
		{"bearer first token", header("Bearer tok-1"), http.StatusOK},
		{"bearer second token", header("Bearer tok-2"), http.StatusOK},
		{"bearer scheme case-insensitive", header("bearer tok-1"), http.StatusOK},
		{"bearer wrong token", header("Bearer tok-3"), http.StatusUnauthorized},
		{"bearer prefix of token", header("Bearer tok-"), http.StatusUnauthorized},
		{"bearer token longer", header("Bearer tok-11"), http.StatusUnauthorized},
		{"bearer empty", header("Bearer "), http.StatusUnauthorized},
		{"token without scheme", header("tok-1"), http.StatusUnauthorized},
		{"token under another scheme", header("Token tok-1"), http.StatusUnauthorized},
		{"basic right", basic("prom", "p4ss"), http.StatusOK},
		{"basic wrong password", basic("prom", "p4sS"), http.StatusUnauthorized},
		{"basic wrong user", basic("Prom", "p4ss"), http.StatusUnauthorized},
		{"basic empty password", basic("prom", ""), http.StatusUnauthorized},
		{"basic with the token as password", basic("prom", "tok-1"), http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			c.set(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d", rec.Code, c.want)
			}
			body := rec.Body.String()
			if c.want == http.StatusOK {
				if body != "secret metrics" {
					t.Fatalf("body %q", body)
				}
				return
			}
			if strings.Contains(body, "secret") {
				t.Fatal("refused request saw the protected body")
			}
			ch := rec.Header().Values("WWW-Authenticate")
			if len(ch) != 2 || ch[0] != `Bearer realm="sfotel"` || ch[1] != `Basic realm="sfotel", charset="UTF-8"` {
				t.Fatalf("WWW-Authenticate = %q", ch)
			}
		})
	}
}

func TestProtectOnlyBearerChallenge(t *testing.T) {
	h, err := Protect(okHandler, WithBearerToken("t"), WithRealm("metrics"))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth("t", "t")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ch := rec.Header().Values("WWW-Authenticate"); rec.Code != http.StatusUnauthorized || len(ch) != 1 || ch[0] != `Bearer realm="metrics"` {
		t.Fatalf("status %d, challenges %q", rec.Code, ch)
	}
}

func TestProtectRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		h    http.Handler
		opts []Option
		want string
	}{
		{"nil handler", nil, []Option{WithBearerToken("t")}, "handler is nil"},
		{"no credentials", okHandler, nil, "no credentials"},
		{"only nil options", okHandler, []Option{nil}, "no credentials"},
		{"empty token", okHandler, []Option{WithBearerToken("")}, "WithBearerToken #1: token is empty"},
		{"blank second token", okHandler, []Option{WithBearerToken("a"), WithBearerToken("  ")}, "WithBearerToken #2"},
		{"empty user", okHandler, []Option{WithBasicAuth("", "p")}, "WithBasicAuth #1"},
		{"empty password", okHandler, []Option{WithBasicAuth("u", "")}, "WithBasicAuth #1"},
		{"colon in user", okHandler, []Option{WithBasicAuth("a:b", "p")}, "must not contain ':'"},
		{"quote in realm", okHandler, []Option{WithBearerToken("t"), WithRealm(`a"b`)}, "WithRealm"},
		// A token read with os.ReadFile keeps the file's newline; HTTP
		// strips it from the header, so it could never match.
		{"token with a trailing newline", okHandler, []Option{WithBearerToken("s3cret\n")}, "WithBearerToken #1: token has white space at its start or end (a trailing newline from a file?); trim it; it could never match"},
		{"token with CRLF", okHandler, []Option{WithBearerToken("a"), WithBearerToken("s3cret\r\n")}, "WithBearerToken #2: token has white space"},
		{"token with a leading space", okHandler, []Option{WithBearerToken(" s3cret")}, "WithBearerToken #1: token has white space"},
		{"token with a control character", okHandler, []Option{WithBearerToken("s3\x00cret")}, "WithBearerToken #1: token contains the control character U+0000"},
		{"password with a trailing newline", okHandler, []Option{WithBasicAuth("prom", "pa55\n")}, "WithBasicAuth #1: password has white space"},
		{"user with a trailing space", okHandler, []Option{WithBasicAuth("prom ", "pa55")}, "WithBasicAuth #1: user has white space"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := Protect(c.h, c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) || h != nil {
				t.Fatalf("got %v, %v; want an error containing %q", h, err, c.want)
			}
		})
	}
}

// TestHeaderWhiteSpaceIsStripped is why Protect refuses a token with
// white space at its end: even a client that sends "Bearer s3cret \r\n"
// byte for byte reaches the handler as "Bearer s3cret", so such a token
// could never match.
func TestHeaderWhiteSpaceIsStripped(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret \t\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "Bearer s3cret" {
		t.Fatalf("server saw %q", v)
	}
}

// BenchmarkProtect measures what authentication adds to a request.
func BenchmarkProtect(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h, err := Protect(next, WithBearerToken("a-long-enough-scrape-token-0123456789"), WithBasicAuth("prom", "secret"))
	if err != nil {
		b.Fatal(err)
	}
	bearer := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	bearer.Header.Set("Authorization", "Bearer a-long-enough-scrape-token-0123456789")
	basic := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	basic.SetBasicAuth("prom", "secret")
	for name, c := range map[string]struct {
		h   http.Handler
		req *http.Request
	}{"bare": {next, bearer}, "bearer": {h, bearer}, "basic": {h, basic}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, c.req)
				if rec.Code != http.StatusNoContent {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
