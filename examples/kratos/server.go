package main

import (
	"context"
	"net/http"

	"github.com/go-kratos/kratos/v2/log"
	"github.com/go-kratos/kratos/v2/middleware"
	"github.com/go-kratos/kratos/v2/middleware/logging"
	"github.com/go-kratos/kratos/v2/middleware/metrics"
	"github.com/go-kratos/kratos/v2/middleware/recovery"
	"github.com/go-kratos/kratos/v2/middleware/tracing"
	kgrpc "github.com/go-kratos/kratos/v2/transport/grpc"
	khttp "github.com/go-kratos/kratos/v2/transport/http"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	v1 "github.com/statefulroute/sfotel/examples/kratos/api/router/v1"
	"github.com/statefulroute/sfotel/examples/kratos/internal/conf"
	sfkratos "github.com/statefulroute/sfotel/kratos"
)

// The operations, as the Kratos middleware (span names, the operation label
// of server_requests_*) sees them: the gRPC full method names, used for the
// HTTP routes too, as protoc-gen-go-http does.
const (
	operationLogin  = "/router.v1.Router/Login"
	operationLookup = "/router.v1.Router/Lookup"
	operationLogout = "/router.v1.Router/Logout"
)

// serverMiddleware is the chain both servers run, outermost first:
//
//   - tracing first, so every later middleware and the handler run inside
//     the server span: metrics recorded in it carry the span's trace as an
//     exemplar, log lines carry its trace.id, and the executor's span is its
//     child;
//   - logging, then metrics, which read the error the inner middleware
//     return;
//   - recovery inside them, so a panicking handler is logged, counted and
//     traced as the 500 recovery turns it into, not lost;
//   - sfkratos.Middleware last, so all of the above see the executor's
//     errors already mapped: a bad uid is code 400 with its reason in
//     server_requests_code_total, not 500 with none.
func serverMiddleware(logger log.Logger, tp trace.TracerProvider, meter metric.Meter) ([]middleware.Middleware, error) {
	requests, err := metrics.DefaultRequestsCounter(meter, metrics.DefaultServerRequestsCounterName)
	if err != nil {
		return nil, err
	}
	// "server_requests_seconds", not Kratos' suggested
	// "server_requests_seconds_bucket": the Prometheus exporter adds the
	// _bucket, _sum and _count suffixes itself.
	seconds, err := metrics.DefaultSecondsHistogram(meter, "server_requests_seconds")
	if err != nil {
		return nil, err
	}
	return []middleware.Middleware{
		tracing.Server(tracing.WithTracerProvider(tp)),
		logging.Server(logger),
		metrics.Server(metrics.WithRequests(requests), metrics.WithSeconds(seconds)),
		recovery.Recovery(),
		sfkratos.Middleware(),
	}, nil
}

func newGRPCServer(c *conf.Server_GRPC, mw []middleware.Middleware, svc v1.RouterServer) *kgrpc.Server {
	opts := []kgrpc.ServerOption{kgrpc.Middleware(mw...)}
	if c.GetNetwork() != "" {
		opts = append(opts, kgrpc.Network(c.GetNetwork()))
	}
	if c.GetAddr() != "" {
		opts = append(opts, kgrpc.Address(c.GetAddr()))
	}
	if c.GetTimeout() != nil {
		opts = append(opts, kgrpc.Timeout(c.GetTimeout().AsDuration()))
	}
	srv := kgrpc.NewServer(opts...)
	v1.RegisterRouterServer(srv, svc)
	return srv
}

// newHTTPServer serves the Router API as JSON, plus /metrics and
// /debug/report. The API routes are registered through Kratos' router
// (srv.Route) and call ctx.Middleware, which is what runs the middleware
// chain; /metrics and /debug/report are plain http.Handlers (srv.Handle),
// which Kratos serves without any middleware: scrapes are not traced or
// counted as requests.
func newHTTPServer(c *conf.Server_HTTP, mw []middleware.Middleware, svc v1.RouterServer, metricsH, reportH http.Handler, reportPath string) *khttp.Server {
	opts := []khttp.ServerOption{khttp.Middleware(mw...)}
	if c.GetNetwork() != "" {
		opts = append(opts, khttp.Network(c.GetNetwork()))
	}
	if c.GetAddr() != "" {
		opts = append(opts, khttp.Address(c.GetAddr()))
	}
	if c.GetTimeout() != nil {
		opts = append(opts, khttp.Timeout(c.GetTimeout().AsDuration()))
	}
	srv := khttp.NewServer(opts...)
	registerRouterHTTP(srv, svc)
	srv.Handle("/metrics", metricsH)
	srv.Handle(reportPath, reportH)
	return srv
}

// registerRouterHTTP is what protoc-gen-go-http generates from
// google.api.http annotations: one Kratos route per method, each running
// the middleware chain around the service method.
//
//	POST /v1/login    {"uid": "...", "service": "..."}
//	GET  /v1/lookup   ?uid=...&service=...
//	POST /v1/logout   {"uid": "...", "service": "...", "grace_seconds": 60}
//
// No uid is part of a path: Kratos' server span records the request path
// (http.target), so a /v1/users/{uid} route would put every uid on a span.
func registerRouterHTTP(srv *khttp.Server, svc v1.RouterServer) {
	r := srv.Route("/")
	r.POST("/v1/login", func(ctx khttp.Context) error {
		var in v1.LoginRequest
		if err := ctx.Bind(&in); err != nil {
			return err
		}
		khttp.SetOperation(ctx, operationLogin)
		h := ctx.Middleware(func(ctx context.Context, req any) (any, error) {
			return svc.Login(ctx, req.(*v1.LoginRequest))
		})
		out, err := h(ctx, &in)
		if err != nil {
			return err
		}
		return ctx.Result(http.StatusOK, out)
	})
	r.GET("/v1/lookup", func(ctx khttp.Context) error {
		var in v1.LookupRequest
		if err := ctx.BindQuery(&in); err != nil {
			return err
		}
		khttp.SetOperation(ctx, operationLookup)
		h := ctx.Middleware(func(ctx context.Context, req any) (any, error) {
			return svc.Lookup(ctx, req.(*v1.LookupRequest))
		})
		out, err := h(ctx, &in)
		if err != nil {
			return err
		}
		return ctx.Result(http.StatusOK, out)
	})
	r.POST("/v1/logout", func(ctx khttp.Context) error {
		var in v1.LogoutRequest
		if err := ctx.Bind(&in); err != nil {
			return err
		}
		khttp.SetOperation(ctx, operationLogout)
		h := ctx.Middleware(func(ctx context.Context, req any) (any, error) {
			return svc.Logout(ctx, req.(*v1.LogoutRequest))
		})
		out, err := h(ctx, &in)
		if err != nil {
			return err
		}
		return ctx.Result(http.StatusOK, out)
	})
}
