package otelexec

import "github.com/statefulroute/sfotel/internal/contract"

// Version is the version of the otelexec instrumentation. It is reported as
// the instrumentation scope version of the executor's tracer and meter.
const Version = contract.Version

// ScopeName is the instrumentation scope name of the executor's tracer and
// meter: the package's import path, as OpenTelemetry recommends.
const ScopeName = contract.ScopeExecutor
