package report

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/statefulroute/sfotel/internal/contract"
)

func TestHandlerFormats(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpGetLinkedPod.String(), 3, 0.001)
	srv := httptest.NewServer(Handler(f.c))
	defer srv.Close()

	for _, c := range []struct {
		name, query, accept string
		status              int
		contentType, body   string // body: a substring the format must contain
	}{
		{"default", "", "", 200, "application/json; charset=utf-8", `"schema_version": 2`},
		{"curl", "", "*/*", 200, "application/json; charset=utf-8", `"operations"`},
		{"format=text", "?format=text", "", 200, "text/plain; charset=utf-8", "OPERATION"},
		{"format=TEXT", "?format=TEXT", "", 200, "text/plain; charset=utf-8", "OPERATION"},
		{"format=html", "?format=html", "application/json", 200, "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"format wins over Accept", "?format=json", "text/html", 200, "application/json; charset=utf-8", `"schema_version"`},
		{"browser", "", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, "text/html; charset=utf-8", "<svg"},
		{"q-values", "", "text/html;q=0.5, text/plain", 200, "text/plain; charset=utf-8", "SUGGESTIONS"},
		{"text/*", "", "text/*", 200, "text/plain; charset=utf-8", "REDIS"},
		{"unknown format", "?format=xml", "", 400, "text/plain; charset=utf-8", `format: unknown value "xml"`},
		{"nothing acceptable", "", "application/xml, image/png", 406, "text/plain; charset=utf-8", "Accept"},
		{"refused by q=0", "", "application/json;q=0", 406, "text/plain; charset=utf-8", "Accept"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/debug/report"+c.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != c.contentType || !strings.Contains(string(body), c.body) {
				t.Fatalf("status %d type %q body %.200q; want %d %q containing %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.contentType, c.body)
			}
			if c.status == 200 {
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Fatalf("Cache-Control %q", cc)
				}
				if resp.Header.Get("Vary") != "Accept" {
					t.Fatal("no Vary: Accept")
				}
			}
		})
	}
}

func TestHandlerServesAFreshSnapshot(t *testing.T) {
	f := newFixture(t)
	h := Handler(f.c)
	get := func() Report {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/report", nil))
		var r Report
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	f.calls(contract.OpGetLinkedPod.String(), 2, 0.001)
	if r := get(); len(r.Operations) != 1 || r.Operations[0].Count != 2 {
		t.Fatalf("%+v", r.Operations)
	}
	f.calls(contract.OpGetLinkedPod.String(), 3, 0.001)
	if r := get(); r.Operations[0].Count != 5 {
		t.Fatalf("second request: %+v", r.Operations)
	}
}

func TestHandlerMethodsAndErrors(t *testing.T) {
	f := newFixture(t)
	h := Handler(f.c)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/debug/report", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/debug/report?format=text", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "0" {
		t.Fatalf("HEAD: %d body %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}

	// A collector whose provider is gone answers 500 with the cause.
	orphan, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	Handler(orphan).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/report", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "collect metrics") {
		t.Fatalf("unregistered reader: %d %q", rec.Code, rec.Body.String())
	}
}
