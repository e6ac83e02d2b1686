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
	MetricOperations        = "stateful_executor.operations"
	UnitOperations          = "{operation}"
	MetricOperationDuration = "stateful_executor.operation.duration"
	MetricErrors            = "stateful_executor.errors"
	// Only with otelexec.WithServiceAttributes.
	MetricServiceOperations        = "stateful_executor.service.operations"
	MetricServiceOperationDuration = "stateful_executor.service.operation.duration"
	MetricCacheHitRatio            = "stateful_executor.cache_hit_ratio"
	MetricScriptCacheHits          = "stateful_executor.script_cache.hits"
	MetricScriptCacheMisses        = "stateful_executor.script_cache.misses"
	MetricScriptCacheReloads       = "stateful_executor.script_cache.reloads"
	MetricStateCacheHits           = "stateful_executor.state_cache.hits"
	MetricStateCacheMisses         = "stateful_executor.state_cache.misses"
	MetricLinkCacheHits            = "stateful_executor.link_cache.hits"
	MetricLinkCacheMisses          = "stateful_executor.link_cache.misses"
	MetricLinkCacheInvalid         = "stateful_executor.link_cache.invalidations"
	MetricLinkCacheEvictions       = "stateful_executor.link_cache.evictions"
	MetricStoredSkipped            = "stateful_executor.stored_values.skipped"
	MetricRoutingDecisions         = "stateful_executor.routing.decisions"
	MetricLinksMoved               = "stateful_executor.links.moved"
	MetricPods                     = "stateful_executor.pods"
	MetricPodHeartbeatAge          = "stateful_executor.pods.heartbeat_age"
	MetricPodLoadSpread            = "stateful_executor.pods.load_spread"
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
	MetricPoolPending         = "db.client.connection.pending_requests"
	MetricPoolWaits           = "stateful_executor.redis.pool.waits"
	MetricPoolWaitTime        = "stateful_executor.redis.pool.wait_time"
	MetricPoolHits            = "stateful_executor.redis.pool.hits"
	MetricPoolMisses          = "stateful_executor.redis.pool.misses"
	MetricPoolUtilization     = "stateful_executor.redis.pool.utilization"
)

// Metric attribute keys of the dashboard contract. They are plain label names
// that existing dashboards query, so they are not semantic-convention keys.
const (
	AttrOperation = "operation"
	AttrStatus    = "status"
	AttrErrorType = "error_type"
	AttrCacheType = "cache_type"
	AttrKind      = "kind" // of stateful_executor.stored_values.skipped
	AttrOutcome   = "outcome"
	AttrPodState  = "state"  // of stateful_executor.pods: live or stale
	AttrReason    = "reason" // of stateful_executor.link_cache.invalidations: key, flush or lost
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

// Outcome is what a routing decision (ComputeLinkedPod, RouteLinkedPod)
// did: the value of the outcome attribute of
// stateful_executor.routing.decisions. The set is fixed.
type Outcome uint8

const (
	// OutcomeKept: the user's link was kept, and its pod is live.
	OutcomeKept Outcome = iota
	// OutcomeKeptStale: the user's link was kept although its pod is not
	// live (its heartbeat stale, its state unparsable or gone): the user is
	// held on a dead pod.
	OutcomeKeptStale
	// OutcomeLinked: no link; the user was linked to the least-loaded live pod.
	OutcomeLinked
	// OutcomeRaced: no link was read, but another caller linked the user
	// before this one could; its link was kept.
	OutcomeRaced
	// OutcomeNoLivePod: no link and no live pod; the user was not linked.
	OutcomeNoLivePod
	// OutcomeMoved: the link's pod was not live; RouteLinkedPod moved the
	// user to the least-loaded live pod.
	OutcomeMoved
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{
	OutcomeKept:      "kept",
	OutcomeKeptStale: "kept_stale",
	OutcomeLinked:    "linked",
	OutcomeRaced:     "raced",
	OutcomeNoLivePod: "no_live_pod",
	OutcomeMoved:     "moved",
}

// String returns the outcome attribute's value.
func (o Outcome) String() string { return outcomeNames[o] }

// Mover is the operation that replaced a user's link by a link to another
// pod: the value of the operation attribute of stateful_executor.links.moved.
// The set is fixed.
type Mover uint8

const (
	MovedBySetLinkedPod    Mover = iota // over a link to another pod
	MovedByTrySetLinkedPod              // over a temporary link to another pod
	MovedByRouteLinkedPod               // off a pod that is not live
	NumMovers
)

var moverNames = [NumMovers]string{
	MovedBySetLinkedPod:    "SetLinkedPod",
	MovedByTrySetLinkedPod: "TrySetLinkedPod",
	MovedByRouteLinkedPod:  "RouteLinkedPod",
}

// String returns the operation attribute's value.
func (m Mover) String() string { return moverNames[m] }

// Values of the state attribute of stateful_executor.pods.
const (
	PodLive  = "live"
	PodStale = "stale"
)

// Values of the cache_type attribute.
const (
	CacheScript = "script"
	CacheState  = "state"
)

const MetricExporterSpansDropped = "sfotel.exporter.spans.dropped"
