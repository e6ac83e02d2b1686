package contract

import semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

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

// Instrument names, the key of each instrument; instruments.go describes
// each one once.
const (
	MetricOperations         = "stateful_executor.operations"
	UnitOperations           = "{operation}"
	MetricOperationDuration  = "stateful_executor.operation.duration"
	MetricErrors             = "stateful_executor.errors"
	UnitErrors               = "{error}"
	MetricCacheHitRatio      = "stateful_executor.cache_hit_ratio"
	UnitCacheHitRatio        = "1"
	MetricScriptCacheHits    = "stateful_executor.script_cache.hits"
	MetricScriptCacheMisses  = "stateful_executor.script_cache.misses"
	MetricScriptCacheReloads = "stateful_executor.script_cache.reloads"
	MetricStateCacheHits     = "stateful_executor.state_cache.hits"
	MetricStateCacheMisses   = "stateful_executor.state_cache.misses"
	MetricStoredSkipped      = "stateful_executor.stored_values.skipped"
	UnitStoredValues         = "{value}"
)

const (
	MetricConnectionStatus = "stateful_executor.redis.connection.status"
	MetricPingDuration     = "stateful_executor.redis.ping.duration"

	MetricCommandDuration     = "db.client.operation.duration"
	MetricPoolConnectionCount = "db.client.connection.count"
	MetricPoolMax             = "db.client.connection.max"
	MetricPoolIdleMax         = "db.client.connection.idle.max"
	MetricPoolIdleMin         = "db.client.connection.idle.min"
	MetricPoolTimeouts        = "db.client.connection.timeouts"
	MetricPoolWaits           = "db.client.connection.waits"
	MetricPoolWaitTime        = "db.client.connection.wait_time.total"
	MetricPoolHits            = "db.client.connection.hits"
	MetricPoolMisses          = "db.client.connection.misses"
	MetricPoolUtilization     = "db.client.connection.utilization"
)

// Metric attribute keys of the dashboard contract. They are plain label names
// that existing dashboards query, so they are not semantic-convention keys.
const (
	AttrOperation = "operation"
	AttrStatus    = "status"
	AttrErrorType = "error_type"
	AttrCacheType = "cache_type"
	AttrKind      = "kind" // of stateful_executor.stored_values.skipped
	// Only with otelexec.WithServiceAttributes.
	AttrNamespace = "namespace"
	AttrService   = "service"
)

// Semantic-convention attribute keys the instruments carry.
const (
	AttrPoolName         = string(semconv.DBClientConnectionPoolNameKey)
	AttrConnectionState  = string(semconv.DBClientConnectionStateKey)
	AttrDBSystemName     = string(semconv.DBSystemNameKey)
	AttrDBOperationName  = string(semconv.DBOperationNameKey)
	AttrServerAddress    = string(semconv.ServerAddressKey)
	AttrServerPort       = string(semconv.ServerPortKey)
	AttrErrorTypeSemconv = string(semconv.ErrorTypeKey)
)

// Values of the status attribute.
const (
	StatusOK    = "ok"
	StatusError = "error"
	StatusUp    = "up"
	StatusDown  = "down"
)

// SkipKind is the kind of stored value a read skipped because it is not
// what sfotel writes (another writer stored it): the value of the kind
// attribute of stateful_executor.stored_values.skipped. The set is fixed.
type SkipKind uint8

const (
	// SkipStateField: a field of a pod state hash whose name is not a pod ID.
	SkipStateField SkipKind = iota
	// SkipStateValue: a pod state ComputeLinkedPod cannot parse as
	// <load>-<heartbeat>, or whose load is negative.
	SkipStateValue
	// SkipLinkValue: a link value (a link key, or a field of a user's link
	// hash) that is not a pod ID.
	SkipLinkValue
	NumSkipKinds
)

var skipKindNames = [NumSkipKinds]string{
	SkipStateField: "state_field",
	SkipStateValue: "state_value",
	SkipLinkValue:  "link_value",
}

// String returns the kind attribute's value.
func (k SkipKind) String() string { return skipKindNames[k] }

// Values of the cache_type attribute.
const (
	CacheScript = "script"
	CacheState  = "state"
)

const (
	MetricExporterSpansDropped = "sfotel.exporter.spans.dropped"
	UnitSpans                  = "{span}"
)
