package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-kratos/kratos/v2"
	"github.com/go-kratos/kratos/v2/log"
	"github.com/go-kratos/kratos/v2/middleware/tracing"
	kgrpc "github.com/go-kratos/kratos/v2/transport/grpc"
	khttp "github.com/go-kratos/kratos/v2/transport/http"

	"github.com/statefulroute/sfotel/examples/kratos/internal/conf"
	"github.com/statefulroute/sfotel/exporters"
	sfkratos "github.com/statefulroute/sfotel/kratos"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
	"github.com/statefulroute/sfotel/report"
)

// serviceName is service.name unless OTEL_SERVICE_NAME says otherwise.
const serviceName = "kratos-router"

// router is the assembled service: what main runs and the tests drive.
type router struct {
	app  *kratos.App
	lc   *sfkratos.Lifecycle
	http *khttp.Server
	grpc *kgrpc.Server
	tel  *exporters.Telemetry
}

// newLogger is the Kratos logger of the project layout, with the trace and
// span IDs of the request each line belongs to.
func newLogger(w io.Writer) log.Logger {
	return log.With(log.NewStdLogger(w),
		"ts", log.DefaultTimestamp,
		"caller", log.DefaultCaller,
		"service.name", serviceName,
		"trace.id", tracing.TraceID(),
		"span.id", tracing.SpanID(),
	)
}

// newRouter builds everything, in the order each part needs the one
// before: telemetry (no I/O), the Redis client and its instrumentation, the
// executor, the middleware and servers, and the Lifecycle that starts and
// stops them with the app. telemetry options come after the router's own
// (main makes the providers global, the tests add span processors).
func newRouter(ctx context.Context, c *conf.Bootstrap, logger log.Logger, telemetry ...exporters.Option) (_ *router, err error) {
	slogger := sfkratos.NewSlogLogger(logger)
	coll, err := report.NewCollector()
	if err != nil {
		return nil, err
	}
	// OTLP as OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* variables say.
	tel, err := exporters.Setup(ctx, append([]exporters.Option{
		exporters.WithServiceName(serviceName),
		exporters.WithServiceVersion(otelexec.Version),
		exporters.WithPrometheus(),
		exporters.WithReader(coll.Reader()),
		exporters.WithLogger(slogger),
	}, telemetry...)...)
	if err != nil {
		return nil, err
	}
	// Until the Lifecycle owns them, undo what was built if a later step fails.
	var cleanup []func() error
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				err = errors.Join(err, cleanup[i]())
			}
			err = errors.Join(err, tel.Shutdown(context.WithoutCancel(ctx)))
		}
	}()
	tp, mp := tel.TracerProvider(), tel.MeterProvider()

	rdb, err := sfkratos.NewRedisClient(c.GetData().GetRedis())
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, rdb.Close)
	inst, err := redisinstr.Instrument(rdb,
		redisinstr.WithTracerProvider(tp),
		redisinstr.WithMeterProvider(mp),
		redisinstr.WithCommandSpans(c.GetRouter().GetCommandSpans()))
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, inst.Close)
	exec, err := otelexec.New(rdb,
		otelexec.WithTracerProvider(tp),
		otelexec.WithMeterProvider(mp),
		otelexec.WithRedisCommandSpans(c.GetRouter().GetCommandSpans()),
		otelexec.WithLogger(slogger))
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	cleanup = append(cleanup, exec.Close)

	mw, err := serverMiddleware(logger, tp, mp.Meter("kratos"))
	if err != nil {
		return nil, err
	}
	svc := &routerService{exec: exec, conf: c.GetRouter()}
	hs := newHTTPServer(c.GetServer().GetHttp(), mw, svc, tel.Prometheus(), report.Handler(coll), report.DefaultPath)
	gs := newGRPCServer(c.GetServer().GetGrpc(), mw, svc)
	hb := newHeartbeats(exec, c.GetRouter(), logger)

	lopts := []sfkratos.Option{
		sfkratos.WithTelemetry(tel),
		sfkratos.WithInstrumentation(inst),
		sfkratos.WithExecutor(exec),
		sfkratos.WithRedisClient(rdb),
	}
	if st := c.GetServer().GetStopTimeout(); st != nil {
		lopts = append(lopts, sfkratos.WithStopTimeout(st.AsDuration()))
	}
	lc, err := sfkratos.NewLifecycle(lopts...)
	if err != nil {
		return nil, err
	}
	app := kratos.New(append(lc.Options(),
		kratos.Name(serviceName),
		kratos.Version(otelexec.Version),
		// After the Lifecycle's Start (Redis answers): one heartbeat, so
		// the first logins find live pods.
		kratos.BeforeStart(hb.beat),
		kratos.Server(hs, gs, hb),
	)...)
	return &router{app: app, lc: lc, http: hs, grpc: gs, tel: tel}, nil
}

// run serves until the app is stopped (SIGINT, SIGTERM) and has flushed its
// telemetry.
func (r *router) run() error {
	err := r.app.Run()
	// Run skips AfterStop hooks when a BeforeStart hook failed: stop the
	// Lifecycle here too (a second Stop does nothing).
	return errors.Join(err, r.lc.Stop(context.Background()))
}
