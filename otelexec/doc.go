// Package otelexec is the stateful service executor over Redis: the pod
// states, workload states and user → pod links a stateful router keeps,
// under the names and keys of the Java StatefulRedisExecutor, so that the
// two can share one Redis. Every operation is an OpenTelemetry span and
// metrics, with no uid, key or stored value in either.
//
// New does no I/O; LoadScripts checks Redis within the caller's deadline.
// The client needs ContextTimeoutEnabled, or calls ignore deadlines:
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
//	exec, err := otelexec.New(rdb) // the global providers unless WithTracerProvider, WithMeterProvider
//	...
//	defer exec.Close()
//	err = exec.LoadScripts(ctx)
//	err = exec.SetServiceState(ctx, "prod", "match", 0, otelexec.FormatPodState(load, time.Now()))
//	pod, err := exec.ComputeLinkedPod(ctx, "prod", "user-42", "match", 30*time.Second, otelexec.PersistForever)
//
// Bad input returns an *ArgumentError and never reaches Redis; a link write
// is sent at most once, and when its reply is lost the error wraps
// ErrOutcomeUnknown. docs/design.md in the repository has the key layout,
// the caches and the guarantees; docs/telemetry.md every span field and
// metric.
package otelexec
