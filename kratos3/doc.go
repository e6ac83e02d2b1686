// Package sfkratos routes the calls of go-kratos v3 clients
// (github.com/go-kratos/kratos/v3) to the pod sfotel's executor links each
// user to: Router and its NodeFilter.
//
// Import it under its package name, beside Kratos' own kratos package:
//
//	import sfkratos "github.com/statefulroute/sfotel/kratos3"
//
// Kratos v3 logs through *slog.Logger, which the executor takes as it is
// (otelexec.WithLogger), and leaves OpenTelemetry to its contrib modules,
// so the v2 module's logger adapters and the middleware examples around
// Kratos' tracing have no v3 counterpart here; the error mapping
// (sfotel/kratos's Error) is v2's alone for now. router.go and its test are
// the v2 module's, with the v3 import paths (.ci/run checks they stay so).
// docs/kratos.md in the repository has the details.
package sfkratos
