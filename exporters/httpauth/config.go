package httpauth

// config holds the credentials Protect accepts.
type config struct {
	bearerTokens []string
	basicUsers   []basicCredential
	realm        string
}

type basicCredential struct{ user, password string }

// Option configures Protect.
type Option func(*config)

// newConfig sets the defaults and applies opts; Protect checks the result.
func newConfig(opts []Option) config {
	c := config{realm: "sfotel"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithBearerToken accepts requests with "Authorization: Bearer token".
// It may be given more than once (e.g. while rotating a token). A token
// with white space or a control character at either end, such as the
// newline at the end of a file read with os.ReadFile, is refused: HTTP
// strips it from the header, so it could never match. Trim it first (as
// Prometheus does with the file of its credentials_file setting).
func WithBearerToken(token string) Option {
	return func(c *config) {
		c.bearerTokens = append(c.bearerTokens, token)
	}
}

// WithBasicAuth accepts requests with HTTP basic credentials user and
// password. It may be given more than once. As with WithBearerToken, a
// user or password with white space at either end is refused.
func WithBasicAuth(user, password string) Option {
	return func(c *config) {
		c.basicUsers = append(c.basicUsers, basicCredential{user, password})
	}
}

// WithRealm sets the realm named in the WWW-Authenticate challenge. The
// default is "sfotel".
func WithRealm(realm string) Option {
	return func(c *config) { c.realm = realm }
}
