package contract

// Instrumentation scopes: each package's import path, as OpenTelemetry
// recommends. The report reads only these scopes, so another library's
// instruments of the same name are never summed into it.
const (
	ScopeExecutor  = "github.com/statefulroute/sfotel/otelexec"
	ScopeRedis     = "github.com/statefulroute/sfotel/redisinstr"
	ScopeExporters = "github.com/statefulroute/sfotel/exporters"

	// Version is the version of every sfotel instrumentation scope.
	Version = "0.2.0"
)

// Operation names. They are the executor's method names and serve as span
// names, as the value of the operation metric attribute and as report rows.
const (
	OpSetServiceState       = "SetServiceState"
	OpGetServiceState       = "GetServiceState"
	OpSetWorkloadState      = "SetWorkloadState"
	OpGetWorkloadState      = "GetWorkloadState"
	OpGetWorkloadStateBatch = "GetWorkloadStateBatch"
	OpSetLinkedPod          = "SetLinkedPod"
	OpTrySetLinkedPod       = "TrySetLinkedPod"
	OpSetLinkedPodIfAbsent  = "SetLinkedPodIfAbsent"
	OpGetLinkedPod          = "GetLinkedPod"
	OpGetLinkedPodIfPersist = "GetLinkedPodIfPersist"
	OpBatchGetLinkedPod     = "BatchGetLinkedPod"
	OpRemoveLinkedPod       = "RemoveLinkedPod"
	OpRemoveLinkedPodWithID = "RemoveLinkedPodWithID"
	OpGetLinkService        = "GetLinkService"
	OpComputeLinkedPod      = "ComputeLinkedPod"
)

// Operations lists every operation name in a stable order.
var Operations = []string{
	OpSetServiceState, OpGetServiceState,
	OpSetWorkloadState, OpGetWorkloadState, OpGetWorkloadStateBatch,
	OpSetLinkedPod, OpTrySetLinkedPod, OpSetLinkedPodIfAbsent,
	OpGetLinkedPod, OpGetLinkedPodIfPersist, OpBatchGetLinkedPod,
	OpRemoveLinkedPod, OpRemoveLinkedPodWithID,
	OpGetLinkService, OpComputeLinkedPod,
}

// Executor instruments. The comment gives the name the OTel Prometheus
// exporter turns each one into; those names are the dashboard contract.
const (
	// stateful_executor_operations_total{operation,status}
	MetricOperations = "stateful_executor.operations"
	UnitOperations   = "{operation}"
	// stateful_executor_operation_duration_seconds{operation} (histogram)
	MetricOperationDuration = "stateful_executor.operation.duration"
	// stateful_executor_errors_total{operation,error_type}
	MetricErrors = "stateful_executor.errors"
	UnitErrors   = "{error}"
	// stateful_executor_cache_hit_ratio{cache_type}
	MetricCacheHitRatio = "stateful_executor.cache_hit_ratio"
	UnitCacheHitRatio   = "1"
	// stateful_executor_script_cache_{hits,misses,reloads}_total
	MetricScriptCacheHits    = "stateful_executor.script_cache.hits"
	MetricScriptCacheMisses  = "stateful_executor.script_cache.misses"
	MetricScriptCacheReloads = "stateful_executor.script_cache.reloads"
	// stateful_executor_state_cache_{hits,misses}_total (WithStateCache only)
	MetricStateCacheHits   = "stateful_executor.state_cache.hits"
	MetricStateCacheMisses = "stateful_executor.state_cache.misses"
)

// Redis client instruments (package redisinstr).
const (
	// stateful_executor_redis_connection_status{status} (1 for the current status, 0 for the other)
	MetricConnectionStatus = "stateful_executor.redis.connection.status"
	// stateful_executor_redis_ping_duration_seconds (histogram)
	MetricPingDuration = "stateful_executor.redis.ping.duration"

	// Pool metrics, named after the OTel database client semantic conventions
	// where they define one; waits, hits, misses, wait time and utilization are
	// not in the conventions and keep the db.client.connection prefix.
	MetricPoolConnectionCount = "db.client.connection.count" // {db.client.connection.state=idle|used}
	MetricPoolMax             = "db.client.connection.max"
	MetricPoolIdleMax         = "db.client.connection.idle.max"
	MetricPoolIdleMin         = "db.client.connection.idle.min"
	MetricPoolTimeouts        = "db.client.connection.timeouts"
	MetricPoolWaits           = "db.client.connection.waits"
	MetricPoolWaitTime        = "db.client.connection.wait_time.total" // cumulative seconds spent waiting
	MetricPoolHits            = "db.client.connection.hits"
	MetricPoolMisses          = "db.client.connection.misses"
	MetricPoolUtilization     = "db.client.connection.utilization" // used / max, 0..1
)

// Metric attribute keys of the dashboard contract. They are plain label names
// that existing dashboards query, so they are not semantic-convention keys.
const (
	AttrOperation = "operation"
	AttrStatus    = "status"
	AttrErrorType = "error_type"
	AttrCacheType = "cache_type"
	// Only with otelexec.WithServiceAttributes.
	AttrNamespace = "namespace"
	AttrService   = "service"
)

// Values of the status attribute.
const (
	StatusOK    = "ok"
	StatusError = "error"
	StatusUp    = "up"
	StatusDown  = "down"
)

// Values of the cache_type attribute.
const (
	CacheScript = "script"
	CacheState  = "state"
)

// Exporter instruments (package exporters).
const (
	// sfotel_exporter_spans_dropped_total: spans in batches that the OTLP
	// collector did not take (export error, timeout or shutdown deadline).
	MetricExporterSpansDropped = "sfotel.exporter.spans.dropped"
	UnitSpans                  = "{span}"
)
