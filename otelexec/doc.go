// Package otelexec is the stateful service executor over Redis: the pod
// states, workload states and user → pod links a stateful router keeps. It
// offers the operations of the Java StatefulRedisExecutor under the same
// names and on the same keys, so a Java and a Go executor can share one
// Redis, and every operation is an OpenTelemetry span and metrics, with no
// uid, key or stored value in either.
//
// New does no I/O; LoadScripts checks Redis within the caller's deadline.
// The go-redis client needs ContextTimeoutEnabled, or calls ignore context
// deadlines. Pods publish a heartbeat before ComputeLinkedPod can choose
// one (on a Redis where none has, it returns -1):
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
//	exec, err := otelexec.New(rdb) // the global providers unless WithTracerProvider, WithMeterProvider
//	...
//	defer exec.Close()
//	err = exec.LoadScripts(ctx)
//	err = exec.SetServiceState(ctx, "prod", "match", 0, otelexec.FormatPodState(load, time.Now()))
//	pod, err := exec.ComputeLinkedPod(ctx, "prod", "user-42", "match", 30*time.Second, otelexec.PersistForever)
//
// RouteLinkedPod is ComputeLinkedPod for a router that must not hold a user
// on a dead pod: it moves them to a live one. Both record each decision and
// the pods it saw (stateful_executor.routing.decisions, docs/telemetry.md).
//
// Bad input never reaches Redis: it returns an *ArgumentError naming the
// field. A link write is sent at most once; when its reply is lost the
// error wraps ErrOutcomeUnknown. By default the commands of concurrent
// operations share round trips (go-redis's automatic pipelining; a lone
// caller's go directly): it is what makes the executor faster than a naive
// one when many users are routed at once. WithAutoPipelining(false) turns
// it off; WithStateCache (pod states up to a TTL old) saves the state
// reads; WithLinkCache answers repeated lookups from memory, kept correct
// by Redis's invalidations within a staleness bound.
//
// In the repository, docs/design.md has the key layout, input rules, lost
// replies, state cache and pipelining; docs/telemetry.md every span field
// and metric; docs/java.md sharing Redis with the Java executor.
package otelexec
