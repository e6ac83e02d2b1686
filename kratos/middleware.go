package sfkratos

import (
	"context"

	"github.com/go-kratos/kratos/v2/middleware"
)

// Middleware returns a Kratos server (or client) middleware that turns the
// executor errors a handler returns into Kratos errors with Error, so a
// handler can return the executor's error as it is.
//
// Put it last in the chain, innermost: the middleware before it (tracing,
// logging, metrics) then see the mapped code and reason, so Kratos'
// server_requests_code_total counts a bad uid as code 400 with its reason
// instead of 500 with none.
//
//	http.Middleware(tracing.Server(), logging.Server(logger), metrics.Server(...), sfkratos.Middleware())
func Middleware() middleware.Middleware {
	return func(next middleware.Handler) middleware.Handler {
		return func(ctx context.Context, req any) (any, error) {
			reply, err := next(ctx, req)
			return reply, Error(err)
		}
	}
}
