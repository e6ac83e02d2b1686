package contract

import (
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
)

// Desc is everything a meter needs to create one instrument of the
// telemetry contract: each instrument is described exactly once, here, and
// every package and test records through the typed constructors below.
type Desc struct {
	Name        string
	Kind        Kind
	Unit        string
	Description string
	// Attributes are the keys its points may carry; a test holds the
	// recorded data to them.
	Attributes []string
	// Buckets are the explicit bucket boundaries of a histogram.
	Buckets []float64
}

// Kind is the instrument kind, as the SDK names them.
type Kind string

const (
	KindCounter       Kind = "counter"         // monotonic: observable, or synchronous (Int64Counter.Sync)
	KindUpDownCounter Kind = "up-down counter" // observable
	KindGauge         Kind = "gauge"           // observable, or synchronous (Int64SyncGauge, Float64SyncGauge)
	KindHistogram     Kind = "histogram"       // synchronous
)

// instruments lists every Desc, in declaration order, for the docs test.
var instruments []Desc

// def describes an instrument of the contract; its kind follows from its
// handle T.
func def[T ~struct{ Desc }](name, unit, description string, attrs ...string) T {
	d := Desc{Name: name, Kind: KindGauge, Unit: unit, Description: description, Attributes: attrs}
	switch any(T{}).(type) {
	case Int64Counter, Float64Counter:
		d.Kind = KindCounter
	case Int64UpDownCounter:
		d.Kind = KindUpDownCounter
	}
	instruments = append(instruments, d)
	return T{d}
}

// conv describes an instrument the semantic conventions define, with dbconv's
// unit and description.
func conv[T ~struct{ Desc }](name string, c interface {
	Unit() string
	Description() string
}, attrs ...string) T {
	return def[T](name, c.Unit(), c.Description(), attrs...)
}

func histogram(buckets []float64, name, unit, description string, attrs ...string) Histogram {
	d := Desc{Name: name, Kind: KindHistogram, Unit: unit, Description: description, Attributes: attrs, Buckets: buckets}
	instruments = append(instruments, d)
	return Histogram{d}
}

// Instruments returns every instrument of the contract.
func Instruments() []Desc { return append([]Desc(nil), instruments...) }

// DurationBuckets are the bucket boundaries, in seconds, of every duration
// histogram: 10 µs to 10 s. A loopback Redis round trip takes 30–150 µs, so
// the first boundaries are close enough to tell 50 µs from 100 µs; the
// semantic conventions' advice (from 1 ms) would put most calls in the
// first bucket.
var DurationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Int64Counter is an int64 counter.
type Int64Counter struct{ Desc }

// New creates the instrument on m, observable.
func (d Int64Counter) New(m metric.Meter) (metric.Int64ObservableCounter, error) {
	return m.Int64ObservableCounter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Sync creates the instrument on m, synchronous.
func (d Int64Counter) Sync(m metric.Meter) (metric.Int64Counter, error) {
	return m.Int64Counter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Float64Counter is an observable float64 counter.
type Float64Counter struct{ Desc }

// New creates the instrument on m.
func (d Float64Counter) New(m metric.Meter) (metric.Float64ObservableCounter, error) {
	return m.Float64ObservableCounter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Int64UpDownCounter is an observable int64 up-down counter.
type Int64UpDownCounter struct{ Desc }

// New creates the instrument on m.
func (d Int64UpDownCounter) New(m metric.Meter) (metric.Int64ObservableUpDownCounter, error) {
	return m.Int64ObservableUpDownCounter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Int64Gauge is an observable int64 gauge.
type Int64Gauge struct{ Desc }

// New creates the instrument on m.
func (d Int64Gauge) New(m metric.Meter) (metric.Int64ObservableGauge, error) {
	return m.Int64ObservableGauge(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Float64Gauge is an observable float64 gauge.
type Float64Gauge struct{ Desc }

// New creates the instrument on m.
func (d Float64Gauge) New(m metric.Meter) (metric.Float64ObservableGauge, error) {
	return m.Float64ObservableGauge(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Int64SyncGauge is a synchronous int64 gauge.
type Int64SyncGauge struct{ Desc }

// New creates the instrument on m.
func (d Int64SyncGauge) New(m metric.Meter) (metric.Int64Gauge, error) {
	return m.Int64Gauge(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// Float64SyncGauge is a synchronous float64 gauge.
type Float64SyncGauge struct{ Desc }

// New creates the instrument on m.
func (d Float64SyncGauge) New(m metric.Meter) (metric.Float64Gauge, error) {
	return m.Float64Gauge(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
}

// HeartbeatAgeBuckets are the bucket boundaries, in seconds, of the pods'
// heartbeat age: from a fraction of a heartbeat interval to minutes, so
// that the usual aliveWithin values (10 s to a few minutes) fall between
// boundaries close enough to tell how near pods come to it.
var HeartbeatAgeBuckets = []float64{0.5, 1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600}

// Histogram is a synchronous float64 histogram with explicit buckets.
type Histogram struct{ Desc }

// New creates the instrument on m.
func (d Histogram) New(m metric.Meter) (metric.Float64Histogram, error) {
	return m.Float64Histogram(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description),
		metric.WithExplicitBucketBoundaries(d.Buckets...))
}

// The executor's instruments (scope ScopeExecutor). The comment names the
// series the OTel Prometheus exporter makes of each: those names are the
// dashboard contract.
var (
	// stateful_executor_operations_total{operation,status}
	OperationsCounter = def[Int64Counter](MetricOperations, UnitOperations,
		"Executor operations, by operation and status (ok or error).", AttrOperation, AttrStatus)
	// stateful_executor_errors_total{operation,error_type}
	ErrorsCounter = def[Int64Counter](MetricErrors, "{error}",
		"Failed executor operations, by operation and error type.", AttrOperation, AttrErrorType)
	// stateful_executor_operation_duration_seconds{operation}
	OperationDuration = histogram(DurationBuckets, MetricOperationDuration, "s",
		"Duration of executor operations, including validation and every Redis round trip.", AttrOperation)
	// stateful_executor_service_operations_total{operation,status,namespace,service}
	ServiceOperations = def[Int64Counter](MetricServiceOperations, UnitOperations,
		"Executor operations, by operation, status, namespace and service (only with service attributes; within the MeterProvider's cardinality limit).", AttrOperation, AttrStatus, AttrNamespace, AttrService)
	// stateful_executor_service_operation_duration_seconds{operation,namespace,service}
	ServiceOperationDuration = histogram(DurationBuckets, MetricServiceOperationDuration, "s",
		"Duration of executor operations, by namespace and service (only with service attributes; within the MeterProvider's cardinality limit).", AttrOperation, AttrNamespace, AttrService)
	// stateful_executor_cache_hit_ratio{cache_type}
	CacheHitRatio = def[Float64Gauge](MetricCacheHitRatio, "1",
		"Cache hits / (hits + misses), by cache type.", AttrCacheType)
	// stateful_executor_script_cache_hits_total
	ScriptCacheHits = def[Int64Counter](MetricScriptCacheHits, "{call}",
		"EVALSHA replies other than NOSCRIPT.")
	// stateful_executor_script_cache_misses_total
	ScriptCacheMisses = def[Int64Counter](MetricScriptCacheMisses, "{call}",
		"EVALSHA replies NOSCRIPT: the server had lost the script.")
	// stateful_executor_script_cache_reloads_total
	ScriptCacheReloads = def[Int64Counter](MetricScriptCacheReloads, "{call}",
		"Script loads after a NOSCRIPT.")
	// stateful_executor_state_cache_hits_total
	StateCacheHits = def[Int64Counter](MetricStateCacheHits, "{read}",
		"Pod state reads answered from the state cache.")
	// stateful_executor_state_cache_misses_total
	StateCacheMisses = def[Int64Counter](MetricStateCacheMisses, "{read}",
		"Pod state reads that waited for Redis: the state cache had no fresh entry.")
	// stateful_executor_link_cache_hits_total
	LinkCacheHits = def[Int64Counter](MetricLinkCacheHits, "{read}",
		"Link lookups answered from the link cache, with no round trip.")
	// stateful_executor_link_cache_misses_total
	LinkCacheMisses = def[Int64Counter](MetricLinkCacheMisses, "{read}",
		"Link lookups that read Redis: the link cache had no entry, or may not serve (tracking down or its lease older than maxStale).")
	// stateful_executor_link_cache_invalidations_total{reason}
	LinkCacheInvalidations = def[Int64Counter](MetricLinkCacheInvalid, "{entry}",
		"Users' entries the link cache dropped because their links may have changed, by reason: key (Redis pushed a write to one of the user's keys), flush (Redis was flushed), lost (the tracking connection was lost or stalled, so every entry went).", AttrReason)
	// stateful_executor_link_cache_evictions_total
	LinkCacheEvictions = def[Int64Counter](MetricLinkCacheEvictions, "{entry}",
		"Users' entries the link cache dropped to stay within WithLinkCacheMaxBytes.")
	// stateful_executor_stored_values_skipped_total{kind}
	StoredValuesSkipped = def[Int64Counter](MetricStoredSkipped, "{value}",
		"Stored values an operation skipped because sfotel does not write them so (a pod state field that is not a pod ID, a pod state that does not parse, a link value that is not a pod ID), by kind.", AttrKind)
	// stateful_executor_routing_decisions_total{outcome}
	RoutingDecisions = def[Int64Counter](MetricRoutingDecisions, "{decision}",
		"ComputeLinkedPod and RouteLinkedPod decisions, by outcome: kept, kept_stale (the link's pod is not live), linked, raced, no_live_pod, moved.", AttrOutcome)
	// stateful_executor_links_moved_total{operation}
	LinksMoved = def[Int64Counter](MetricLinksMoved, "{link}",
		"Users' links replaced by a link to another pod, by the operation that replaced them.", AttrOperation)
	// stateful_executor_pods{state}
	Pods = def[Int64SyncGauge](MetricPods, "{pod}",
		"Pods of the service in its last pod state read by a routing decision, live or stale (not live: stale, ahead of the clock or unparsable).", AttrPodState, AttrNamespace, AttrService)
	// stateful_executor_pods_heartbeat_age_seconds
	PodHeartbeatAge = histogram(HeartbeatAgeBuckets, MetricPodHeartbeatAge, "s",
		"Age of the oldest live heartbeat of the service at each routing decision: how close its pods come to being dropped.", AttrNamespace, AttrService)
	// stateful_executor_pods_load_spread_ratio
	PodLoadSpread = def[Float64SyncGauge](MetricPodLoadSpread, "1",
		"Highest load of the service's live pods divided by their mean load, at its last routing decision: 1 is even.", AttrNamespace, AttrService)
)

// The Redis client instruments (scope ScopeRedis). Where the semantic
// conventions define an instrument, its name, unit and description are
// dbconv's, the generated definitions of the conventions.
var (
	// stateful_executor_redis_connection_status{status,db_client_connection_pool_name}
	// No unit: the Prometheus name must stay stateful_executor_redis_connection_status.
	ConnectionStatus = def[Int64Gauge](MetricConnectionStatus, "",
		`1 on the series of the current Redis connection status ("up" or "down") of one client, 0 on the other.`, AttrStatus, AttrPoolName)
	// stateful_executor_redis_ping_duration_seconds
	PingDuration = histogram(DurationBuckets, MetricPingDuration, "s",
		"Round trip time of the prober's PING.", AttrPoolName, AttrServerAddress, AttrServerPort)
	// db_client_operation_duration_seconds
	CommandDuration = histogram(DurationBuckets, MetricCommandDuration,
		dbconv.ClientOperationDuration{}.Unit(), dbconv.ClientOperationDuration{}.Description(),
		AttrDBSystemName, AttrDBOperationName, AttrServerAddress, AttrServerPort, AttrErrorTypeSemconv)
	PoolConnectionCount = conv[Int64UpDownCounter](MetricPoolConnectionCount, dbconv.ClientConnectionCountObservable{}, AttrPoolName, AttrConnectionState)
	PoolMax             = conv[Int64UpDownCounter](MetricPoolMax, dbconv.ClientConnectionMaxObservable{}, AttrPoolName)
	PoolIdleMax         = conv[Int64UpDownCounter](MetricPoolIdleMax, dbconv.ClientConnectionIdleMaxObservable{}, AttrPoolName)
	PoolIdleMin         = conv[Int64UpDownCounter](MetricPoolIdleMin, dbconv.ClientConnectionIdleMinObservable{}, AttrPoolName)
	PoolTimeouts        = conv[Int64Counter](MetricPoolTimeouts, dbconv.ClientConnectionTimeoutsObservable{}, AttrPoolName)
	PoolPending         = conv[Int64UpDownCounter](MetricPoolPending, dbconv.ClientConnectionPendingRequestsObservable{}, AttrPoolName)
	// go-redis pool facts the conventions do not name, in sfotel's own
	// namespace. go-redis counts waits and their total time only, so the
	// conventions' db.client.connection.wait_time histogram cannot be built.
	PoolWaits = def[Int64Counter](MetricPoolWaits, "{wait}",
		"The number of times a caller waited for a free connection.", AttrPoolName)
	PoolWaitTime = def[Float64Counter](MetricPoolWaitTime, "s",
		"The total time callers spent waiting for a free connection.", AttrPoolName)
	PoolHits = def[Int64Counter](MetricPoolHits, "{hit}",
		"The number of times a free connection was found in the pool.", AttrPoolName)
	PoolMisses = def[Int64Counter](MetricPoolMisses, "{miss}",
		"The number of times no free connection was found in the pool and one was dialed.", AttrPoolName)
	PoolUtilization = def[Float64Gauge](MetricPoolUtilization, "1",
		"Connections in use divided by the pool size.", AttrPoolName)
)

// The exporters' own instrument (scope ScopeExporters).
var (
	// sfotel_exporter_spans_dropped_total
	ExporterSpansDropped = def[Int64Counter](MetricExporterSpansDropped, "{span}",
		"Spans in batches the OTLP collector did not take (error, timeout or shutdown deadline).")
)
