package redisinstr

import "github.com/statefulroute/sfotel/internal/contract"

// ScopeName is the instrumentation scope of every tracer and meter this
// package creates: its import path, as OTel asks. A scope of its own keeps
// these instruments apart from the executor's on a shared MeterProvider.
const ScopeName = contract.ScopeRedis

// Version is the instrumentation version reported with ScopeName.
const Version = contract.Version
