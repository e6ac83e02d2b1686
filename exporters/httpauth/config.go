package httpauth

// config holds the credentials Protect accepts.
type config struct {
	bearerTokens []string
	basicUsers   [][2]string // user, password
	realm        string
}

// Option configures Protect.
type Option func(*config)

// WithBearerToken accepts requests with "Authorization: Bearer token". It
// may be given more than once (e.g. while rotating a token). A token with
// white space or a control character at either end, such as a file's
// trailing newline, is refused: HTTP strips it, so it could never match.
func WithBearerToken(token string) Option {
	return func(c *config) { c.bearerTokens = append(c.bearerTokens, token) }
}

// WithBasicAuth accepts requests with HTTP basic credentials user and
// password. It may be given more than once; the same white-space rule holds.
func WithBasicAuth(user, password string) Option {
	return func(c *config) { c.basicUsers = append(c.basicUsers, [2]string{user, password}) }
}

// WithRealm sets the WWW-Authenticate challenge's realm (default "sfotel").
func WithRealm(realm string) Option { return func(c *config) { c.realm = realm } }
