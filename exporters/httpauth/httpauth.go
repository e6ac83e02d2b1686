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

// Protect returns h behind HTTP authentication: a request passes with one
// of the bearer tokens or basic credentials; any other gets 401 with a
// WWW-Authenticate challenge per scheme configured. Credentials are
// compared in constant time over their SHA-256 digests, so neither content
// nor length leaks through timing. At least one is required and none may be
// empty: a protection that lets everyone in by mistake is worse than an
// error at start-up.
func Protect(h http.Handler, opts ...Option) (http.Handler, error) {
	c := config{realm: "sfotel"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	switch {
	case h == nil:
		return nil, errors.New("httpauth: handler is nil")
	case len(c.bearerTokens) == 0 && len(c.basicUsers) == 0:
		return nil, errors.New("httpauth: no credentials; give WithBearerToken or WithBasicAuth")
	case strings.ContainsAny(c.realm, "\"\\\r\n"):
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
		var err error
		switch {
		case u[0] == "" || u[1] == "":
			err = errors.New("user and password must not be empty")
		case strings.Contains(u[0], ":"):
			err = errors.New("user must not contain ':'")
		case checkCredential(u[0]) != nil:
			err = fmt.Errorf("user %w", checkCredential(u[0]))
		case checkCredential(u[1]) != nil:
			err = fmt.Errorf("password %w", checkCredential(u[1]))
		}
		if err != nil {
			return nil, fmt.Errorf("httpauth: WithBasicAuth #%d: %w", i+1, err)
		}
		p.users = append(p.users, [2]digest{sha256.Sum256([]byte(u[0])), sha256.Sum256([]byte(u[1]))})
	}
	if len(p.tokens) > 0 {
		p.challenges = append(p.challenges, `Bearer realm="`+c.realm+`"`)
	}
	if len(p.users) > 0 {
		p.challenges = append(p.challenges, `Basic realm="`+c.realm+`", charset="UTF-8"`)
	}
	return p, nil
}

// checkCredential refuses what a client cannot send: white space at either
// end (HTTP strips it; Prometheus and curl strip a credentials file's
// newline) and control characters (not allowed in a header).
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

type protected struct {
	next       http.Handler
	tokens     []digest
	users      [][2]digest // user, password
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
	ok := 0
	if scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") && len(p.tokens) > 0 {
		d := sha256.Sum256([]byte(strings.TrimSpace(token)))
		for i := range p.tokens {
			ok |= subtle.ConstantTimeCompare(d[:], p.tokens[i][:])
		}
	}
	if user, password, isBasic := r.BasicAuth(); isBasic && len(p.users) > 0 {
		du, dp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
		for i := range p.users {
			ok |= subtle.ConstantTimeCompare(du[:], p.users[i][0][:]) & subtle.ConstantTimeCompare(dp[:], p.users[i][1][:])
		}
	}
	return ok == 1
}
