// Package sfkratos runs sfotel's stateful service executor inside a
// go-kratos v2 service (github.com/go-kratos/kratos/v2), sharing the
// service's telemetry.
//
// Import it under its package name, beside Kratos' own kratos package:
//
//	import sfkratos "github.com/statefulroute/sfotel/kratos"
//
// It is a Go module of its own, so services that do not use Kratos never
// get Kratos' dependencies. It gives:
//
//   - Error and Middleware: executor errors as Kratos errors with the HTTP
//     code (and so the gRPC code), a stable reason and the rejected field in
//     the metadata; a bad uid is a 400 / InvalidArgument, not a 500.
//   - NewSlogLogger and NewKratosLogger: the executor's slog lines through
//     the Kratos logger, and the other way round.
//   - Lifecycle: Redis checked before the servers start; the telemetry
//     flushed, and executor, instrumentation and client closed, after they
//     stop, within the stop timeout.
//   - NewRedisOptions and NewRedisClient: a go-redis client from the
//     conf.Data.Redis block of the Kratos project layout, with
//     ContextTimeoutEnabled so a request's deadline bounds its Redis calls.
//   - Router: a client node filter that sends each user's calls to the pod
//     the executor links them to (RouteLinkedPod), matching the pod to the
//     instance whose metadata PodMetadataKey holds its pod ID.
//
// The package uses only sfotel's public API (otelexec, redisinstr,
// exporters). docs/kratos.md in the repository walks through a whole
// service, including the order of Kratos' tracing and metrics middleware.
package sfkratos
