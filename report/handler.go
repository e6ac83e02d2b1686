package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/munnerz/goautoneg"
)

// DefaultPath is where the report is conventionally served.
const DefaultPath = "/debug/report"

// Formats the handler serves, by ?format= value.
const (
	FormatJSON = "json"
	FormatText = "text"
	FormatHTML = "html"
)

var contentTypes = map[string]string{
	FormatJSON: "application/json; charset=utf-8",
	FormatText: "text/plain; charset=utf-8",
	FormatHTML: "text/html; charset=utf-8",
}

// Handler serves a fresh report of c on every GET or HEAD, usually at
// DefaultPath, as ?format=json|text|html, else as the Accept header asks
// (JSON by default). ?window=60s (up to the kept history span) reports the
// last minute, ?refresh=5s (1s or more) reloads the HTML page. A bad value
// is a 400 that names the parameter, an Accept header that admits no
// format a 406. Responses are never cached.
func Handler(c *Collector) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "report: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Vary", "Accept")
		format, body, status, err := c.serve(req)
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentTypes[format])
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if req.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// serve renders the report a request asks for, or returns the error and
// its status. It renders first, so that a failure is a clean 500, not half
// a page.
func (c *Collector) serve(req *http.Request) (format string, body []byte, status int, err error) {
	if format, status, err = negotiate(req); err != nil {
		return "", nil, status, err
	}
	q := req.URL.Query()
	window, err := durationParam(q, "window", time.Nanosecond, c.cfg.historySpan)
	refresh, err2 := durationParam(q, "refresh", time.Second, 24*time.Hour)
	if err = cmp.Or(err, err2); err != nil {
		return "", nil, http.StatusBadRequest, err
	}
	rep, err := c.Window(req.Context(), window)
	if err != nil {
		return "", nil, http.StatusInternalServerError, err
	}
	var buf bytes.Buffer
	switch format {
	case FormatText:
		err = rep.WriteText(&buf)
	case FormatHTML:
		err = rep.writeHTML(&buf, pageOptions{refresh: refresh, links: true, query: q, span: c.cfg.historySpan})
	default:
		err = rep.WriteJSON(&buf)
	}
	if err != nil {
		return "", nil, http.StatusInternalServerError, fmt.Errorf("report: render: %w", err)
	}
	return format, buf.Bytes(), http.StatusOK, nil
}

// durationParam reads the duration parameter name, 0 when absent; a value
// outside lo..hi is an error that names the parameter.
func durationParam(q url.Values, name string, lo, hi time.Duration) (time.Duration, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("report: %s: %q is not a duration such as 60s or 5m", name, v)
	case (d < lo || d > hi) && hi == 0:
		return 0, fmt.Errorf("report: %s: this collector keeps no history (WithHistory)", name)
	case d < lo || d > hi:
		return 0, fmt.Errorf("report: %s: must be from %v to %v, got %v", name, lo, hi, d)
	}
	return d, nil
}

// accepted maps the media types (and ranges) of an Accept header to the
// format they select: a range chooses the first format it admits.
var accepted = map[string]string{
	"application/json": FormatJSON, "application/*": FormatJSON, "*/*": FormatJSON,
	"text/html": FormatHTML, "text/plain": FormatText, "text/*": FormatText,
}

// negotiate picks the format of a request.
func negotiate(req *http.Request) (format string, status int, err error) {
	if f := strings.ToLower(req.URL.Query().Get("format")); f != "" {
		if _, ok := contentTypes[f]; !ok {
			return "", http.StatusBadRequest, fmt.Errorf("report: format: unknown value %q; want json, text or html", f)
		}
		return f, http.StatusOK, nil
	}
	accept := req.Header.Get("Accept")
	if strings.TrimSpace(accept) == "" {
		return FormatJSON, http.StatusOK, nil
	}
	// Sorted by q, then the specific before the wildcards.
	for _, a := range goautoneg.ParseAccept(strings.ToLower(accept)) {
		if f := accepted[a.Type+"/"+a.SubType]; a.Q > 0 && f != "" {
			return f, http.StatusOK, nil
		}
	}
	return "", http.StatusNotAcceptable, errors.New("report: Accept: none of application/json, text/plain, text/html is acceptable; or use ?format=json|text|html")
}
