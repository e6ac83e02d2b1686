// Package otelexec is the stateful service executor over Redis: pod states,
// workload states and user → pod links that a stateful router keeps, with
// every operation traced and measured by OpenTelemetry from its first line.
//
// # Operations
//
// An Executor made by New offers the operations of the Java
// StatefulRedisExecutor under the same names (SetServiceState,
// GetLinkedPod, ComputeLinkedPod, ...), over a *redis.Client, a
// *redis.ClusterClient or a *redis.Ring. Each link operation that writes is
// one Lua script, run by EVALSHA with the SHA computed locally; when Redis
// answers NOSCRIPT (its script cache was flushed, or it restarted or failed
// over) the executor loads the script once and retries once, by EVAL (which
// carries the source) should the cache be flushed again in between, and counts
// the miss and the reload (ScriptStats, and the script cache metrics).
// ComputeLinkedPod and GetServiceState can read pod states through a
// short-lived cache (WithStateCache) when many users are routed to one
// service at once: one HGETALL per service per TTL, shared by the callers
// that miss together (each within its own deadline), the states parsed once
// when it returns, so a ComputeLinkedPod on a cached service is one pass
// over integers. The cache is bounded in bytes (WithStateCacheMaxBytes,
// 64 MiB by default), whatever the number of services; it drops the
// services not read lately first, keeps a service read once only when it
// is read again soon, and a hit never waits for another service's read.
//
// # Redis data layout
//
// The keys are byte for byte those of the Java executor, so a Java and a Go
// executor can share one Redis:
//
//	sf:{<ns>:state:<svc>}     hash: pod ID → state
//	sf:{<ns>:workload:<svc>}  string: workload state
//	sf:{<ns>:lk:<uid>}        hash: service → pod ID, the user's persistent links
//	sf:{<ns>:lk:<uid>}<svc>   string: pod ID; no TTL = persistent, TTL = temporary
//
// The two link keys of a user share one hash tag, so each link script runs
// on one Redis Cluster slot. No script touches two hash tags: BatchGetLinkedPod
// and GetWorkloadStateBatch use pipelines, and ComputeLinkedPod reads the pod
// states first and then links with a script on the user's slot (the Java
// compute script, which touches both, fails with CROSSSLOT on a cluster).
//
// # Sharing Redis with the Java executor
//
// The Java executor's compute script links a user by writing the field of
// the user's link hash alone. So every operation reads that field first: a
// field is the user's persistent link whether or not a link key exists, and
// where the two disagree (the Java script linked the user over a temporary
// link) the field wins. Reads see it, ComputeLinkedPod, SetLinkedPodIfAbsent
// and TrySetLinkedPod keep it, SetLinkedPod reports it, and the removals
// find it. Each read stays one round trip (HGET and GET pipelined on the
// user's slot). Heartbeats are read in seconds and in milliseconds, by
// magnitude; liveness counts as Java counts it, a heartbeat exactly at the
// threshold alive; and data another writer stored that sfotel does not
// write (a state field or link value that is not a pod ID, a state that
// does not parse) is passed over, counted in
// stateful_executor.stored_values.skipped and logged once, never failing
// the call. Deliberate differences from the Java executor, each with its
// reason, are tabled in docs/java.md: among them the grace period of
// RemoveLinkedPod and RemoveLinkedPodWithID with persistSeconds > 0 (the
// link stays as a temporary link to the same pod for that many seconds,
// where the Java scripts delete it at once), ties broken by lowest pod ID,
// heartbeats more than MaxHeartbeatSkew ahead never live, inputs Java
// accepts and sfotel refuses, and RemoveLinkedPodWithID's argument order.
//
// # Input rules
//
// Bad input never reaches Redis. Namespaces and service names are 1–512 bytes
// of [A-Za-z0-9._-]; uids are 1–512 bytes of valid UTF-8, not blank, without
// braces or control characters; pod IDs are 0 … 2^31−1; persistSeconds is
// -1 (PersistForever) or 1 … 2^31−1; states are 1–4096 bytes; with
// WithStateCache, ComputeLinkedPod's aliveWithin must be longer than the
// cache's TTL. A rejected call returns an *ArgumentError naming the field,
// which wraps ErrInvalidArgument, and is still recorded as a failed
// operation.
//
// # Client settings
//
// New does no I/O, so it cannot hang; LoadScripts checks Redis and loads the
// scripts within the caller's deadline. The executor honours context
// deadlines only as far as the go-redis client does: create it with
// ContextTimeoutEnabled: true (New logs a warning otherwise), or a paused or
// stalled Redis holds each call for the client's full read timeout whatever
// the context says. On Redis Cluster, MaxRedirects of 8 rather than the
// default 3 lets calls ride out a slot migration (TRYAGAIN and ASK replies);
// the reliability tests saw about 4 in 600 calls fail during a migration
// with 3 and none with 8.
//
// With Redis down (nothing listening), an operation fails with error class
// connection once the client's dial attempts failed, whatever its
// deadline: go-redis dials DialerRetries times, 100 ms apart (5 times,
// 0.4 s, by default), and a pipelined read (GetLinkedPod, ComputeLinkedPod,
// the batches) dials both of its pools, 0.8 s. The executor never dials
// again after a failed dial, where go-redis would, MaxRetries times: it
// sends its commands as ones go-redis must not resend, and resends them
// itself as go-redis would otherwise (go-redis hooks see them wrapped; the
// wrapper's Unwrap method returns the command). A router that should shed
// its load at once sets DialerRetries: 1, as the Kratos integration does.
// A Redis Cluster client resends pipelines itself.
//
// # Lost replies
//
// A write whose connection broke, or whose deadline passed, after it may
// have reached Redis returns an error wrapping ErrOutcomeUnknown: it may or
// may not have been applied; see there for what to do. Every write
// operation reports it so, SetServiceState and SetWorkloadState included.
// Only a write whose deadline passed before it was sent, whose dial failed
// or that Redis refused returns a timeout, connection or refusal error:
// nothing was written. A link script that writes is sent at most once:
// run twice it returns a wrong result. SetServiceState and
// SetWorkloadState, which set a value, and reads are resent as go-redis
// resends a command, except after a failed dial.
//
// # Automatic pipelining
//
// WithAutoPipelining(true) sends the executor's single commands through
// go-redis's automatic pipelining whenever two or more of the executor's
// commands are in flight; a caller alone is sent directly. At 50 goroutines
// on a routing mix it served about 1.5 times the requests with a lower p99
// and less than half of Redis's CPU per request, and at one goroutine it
// was not measurably slower (docs/benchmarks.md). Deadlines, the at-most-once rule for
// link writes, NOSCRIPT reloads and every telemetry figure hold through it.
// While redisinstr records command spans on the client, commands are sent
// directly, since a pipelined batch belongs to no single trace.
//
// # Telemetry
//
// Each operation is one span named after the method. While no Redis command
// spans are recorded it is the CLIENT span of the Redis call, with
// db.system.name=redis, db.operation.name set to the method name, and
// server.address and server.port for a single-node client; once
// redisinstr.WithCommandSpans is on for the same client, the command spans
// are the CLIENT spans and the operation span is INTERNAL, so each Redis
// round trip is counted once by span-derived metrics. The attributes are
// start options, so samplers see them. A failure sets error.type (one of the
// classes ErrorType returns) and status Error. A skipped stored value adds
// the event sfotel.stored_value.skipped (its kind and count). Spans carry no
// uid, key, stored value or argument text. Semantic-convention keys come from semconv
// v1.43.0.
//
// The metrics, with the names the Prometheus exporter gives them, are
// stateful_executor_operations_total{operation,status},
// stateful_executor_operation_duration_seconds{operation},
// stateful_executor_errors_total{operation,error_type},
// stateful_executor_cache_hit_ratio{cache_type},
// stateful_executor_script_cache_{hits,misses,reloads}_total and
// stateful_executor_stored_values_skipped_total{kind}. The counts
// belong to the MeterProvider: every executor on one MeterProvider adds to
// the same counters, so they are monotonic whatever executors are created or
// closed. Every attribute set and measurement option is built in New, so
// recording allocates nothing; with WithServiceAttributes the namespace and
// service are added for as many pairs as the cardinality limit holds
// (WithCardinalityLimit), and the rest are recorded as "_other".
//
// With the noop providers of go.opentelemetry.io/otel/trace/noop and
// go.opentelemetry.io/otel/metric/noop the executor skips spans, clocks and
// instruments entirely. The global providers, the default, forward to
// whatever the application installs, even after New.
package otelexec
