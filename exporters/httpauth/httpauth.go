// Package httpauth puts bearer-token or basic authentication in front of an
// HTTP handler, such as /metrics, /debug/report or /debug/pprof.
package httpauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Protect returns h behind HTTP authentication: a request passes when
// it carries one of the bearer tokens (WithBearerToken) or one of the basic
// credentials (WithBasicAuth); any other gets 401 with a WWW-Authenticate
// challenge for each scheme configured. Use it alike for /metrics,
// /debug/report and /debug/pprof.
//
// Credentials are compared in constant time over their SHA-256 digests, so
// neither their content nor their length leaks through timing. At least one
// credential is required, and none may be empty: a protection that lets
// everyone in by mistake is worse than an error at start-up.
func Protect(h http.Handler, opts ...Option) (http.Handler, error) {
	if h == nil {
		return nil, errors.New("httpauth: handler is nil")
	}
	c := newConfig(opts)
	if len(c.bearerTokens) == 0 && len(c.basicUsers) == 0 {
		return nil, errors.New("httpauth: no credentials; give WithBearerToken or WithBasicAuth")
	}
	if strings.ContainsAny(c.realm, "\"\\\r\n") {
		return nil, fmt.Errorf("httpauth: WithRealm %q: quotes, backslashes and line breaks are not allowed", c.realm)
	}
	p := &protected{next: h}
	for i, tok := range c.bearerTokens {
		if strings.TrimSpace(tok) == "" {
			return nil, fmt.Errorf("httpauth: WithBearerToken #%d: token is empty", i+1)
		}
		if err := checkCredential(tok); err != nil {
			return nil, fmt.Errorf("httpauth: WithBearerToken #%d: token %w; it could never match", i+1, err)
		}
		p.tokens = append(p.tokens, sha256.Sum256([]byte(tok)))
	}
	for i, u := range c.basicUsers {
		if u.user == "" || u.password == "" {
			return nil, fmt.Errorf("httpauth: WithBasicAuth #%d: user and password must not be empty", i+1)
		}
		if strings.Contains(u.user, ":") {
			return nil, fmt.Errorf("httpauth: WithBasicAuth #%d: user must not contain ':'", i+1)
		}
		if err := checkCredential(u.user); err != nil {
			return nil, fmt.Errorf("httpauth: WithBasicAuth #%d: user %w", i+1, err)
		}
		if err := checkCredential(u.password); err != nil {
			return nil, fmt.Errorf("httpauth: WithBasicAuth #%d: password %w", i+1, err)
		}
		p.users = append(p.users, digestPair{sha256.Sum256([]byte(u.user)), sha256.Sum256([]byte(u.password))})
	}
	if len(p.tokens) > 0 {
		p.challenges = append(p.challenges, `Bearer realm="`+c.realm+`"`)
	}
	if len(p.users) > 0 {
		p.challenges = append(p.challenges, `Basic realm="`+c.realm+`", charset="UTF-8"`)
	}
	return p, nil
}

// checkCredential refuses what a client cannot send or a tool would not:
// white space at either end (HTTP strips it from a header value; Prometheus
// and curl strip a credentials file's newline) and control characters
// (not allowed in a header). The usual cause is a file read with
// os.ReadFile, newline and all.
func checkCredential(v string) error {
	if strings.TrimSpace(v) != v {
		return errors.New("has white space at its start or end (a trailing newline from a file?); trim it")
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

type digest = [sha256.Size]byte

type digestPair struct{ user, password digest }

type protected struct {
	next       http.Handler
	tokens     []digest
	users      []digestPair
	challenges []string
}

func (p *protected) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.allowed(r) {
		p.next.ServeHTTP(w, r)
		return
	}
	for _, c := range p.challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "401 unauthorized", http.StatusUnauthorized)
}

// allowed checks every configured credential without stopping at the first
// match, so the time taken does not tell which one matched.
func (p *protected) allowed(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return false
	}
	ok := 0
	if scheme, token, found := strings.Cut(auth, " "); found && strings.EqualFold(scheme, "Bearer") && len(p.tokens) > 0 {
		d := sha256.Sum256([]byte(strings.TrimSpace(token)))
		for i := range p.tokens {
			ok |= subtle.ConstantTimeCompare(d[:], p.tokens[i][:])
		}
	}
	if user, password, isBasic := r.BasicAuth(); isBasic && len(p.users) > 0 {
		du, dp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
		for i := range p.users {
			ok |= subtle.ConstantTimeCompare(du[:], p.users[i].user[:]) & subtle.ConstantTimeCompare(dp[:], p.users[i].password[:])
		}
	}
	return ok == 1
}
