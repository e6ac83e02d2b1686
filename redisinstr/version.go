package redisinstr

// ScopeName is the instrumentation scope of every tracer and meter this
// package creates: its import path, as OTel asks. A scope of its own keeps
// these instruments apart from the executor's on a shared MeterProvider.
const ScopeName = "github.com/statefulroute/sfotel/redisinstr"

// Version is the instrumentation version reported with ScopeName.
const Version = "0.1.0"
