package report

import (
	"encoding/json"
	"io"
	"time"
)

// SchemaVersion is the version of the JSON schema in docs/report.md. It
// changes when a field is renamed or removed or changes meaning.
const SchemaVersion = 2

// Report is a performance report over one window, and nothing else: a
// Report decoded from its JSON is the whole report. Snapshot.Report makes
// it of the cumulative data since the instruments started; Window and
// Delta make interval reports; FleetReport builds one from a Prometheus
// server. All durations are seconds.
type Report struct {
	SchemaVersion int          `json:"schema_version"`
	GeneratedAt   time.Time    `json:"generated_at"`
	Window        Window       `json:"window"`
	Service       Service      `json:"service"`
	Source        Source       `json:"source"`
	Thresholds    Thresholds   `json:"thresholds"`
	Operations    []Operation  `json:"operations"` // sorted by name
	Redis         Redis        `json:"redis"`
	Runtime       *Runtime     `json:"runtime,omitempty"`
	Routing       *Routing     `json:"routing,omitempty"`
	Timeline      *Timeline    `json:"timeline,omitempty"`
	Suggestions   []Suggestion `json:"suggestions"` // critical first, then warning, info
	// Warnings name the data a fleet report left out: Prometheus series
	// whose samples are not numbers, infinite or beyond 2^53.
	Warnings []string `json:"warnings,omitempty"`
}

// WriteJSON writes r as indented JSON, the schema in docs/report.md.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // messages are read by people; JSON stays valid
	return enc.Encode(r)
}

// Source says where a report's data came from.
type Source struct {
	// Kind is "process" (a Collector in the process itself) or
	// "prometheus" (FleetReport).
	Kind string `json:"kind"`
	// Prometheus is the server's URL, for a fleet report.
	Prometheus string `json:"prometheus,omitempty"`
	// Selector is the label matchers a fleet report added to its queries.
	Selector string `json:"selector,omitempty"`
	// Instances are the instance labels of the processes a fleet report
	// summed, sorted.
	Instances []string `json:"instances,omitempty"`
}

// Values of Source.Kind.
const (
	SourceProcess    = "process"
	SourcePrometheus = "prometheus"
)

// Thresholds are the rules' settings the suggestions were judged with.
type Thresholds struct {
	MinSamples      uint64  `json:"min_samples"`
	ErrorRate       float64 `json:"error_rate"`
	TailRatio       float64 `json:"tail_ratio"`
	TailFloor       float64 `json:"tail_floor_seconds"`
	RoundTrip       float64 `json:"round_trip_seconds"`
	PoolUtilization float64 `json:"pool_utilization"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	BatchHintRate   float64 `json:"batch_hint_rate"`
	BatchHintShare  float64 `json:"batch_hint_share"`
}

// Window is the time span a report covers.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
	// RequestedSeconds is the window asked for (?window=60s), when the
	// report was made for one; Seconds differs from it when the history
	// kept less, or a little more (to the snapshot before the start).
	RequestedSeconds float64 `json:"requested_seconds,omitempty"`
}

// Service names the process that recorded the metrics, from the
// MeterProvider's resource.
type Service struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Operation holds the statistics of one executor operation.
type Operation struct {
	Name         string            `json:"name"`
	Count        uint64            `json:"count"`
	Errors       uint64            `json:"errors"`
	ErrorRate    float64           `json:"error_rate"`
	OpsPerSec    float64           `json:"ops_per_sec"`
	MeanSeconds  float64           `json:"mean_seconds"`
	P50Seconds   float64           `json:"p50_seconds"`
	P90Seconds   float64           `json:"p90_seconds"`
	P99Seconds   float64           `json:"p99_seconds"`
	MaxSeconds   float64           `json:"max_seconds"`
	ErrorsByType map[string]uint64 `json:"errors_by_type"`
	// SlowestCalls are the slowest calls in the window whose traces were
	// sampled, slowest first (exemplars); empty without sampled traces.
	SlowestCalls []Call `json:"slowest_calls"`
}

// Call is one recorded call with the trace it belongs to.
type Call struct {
	TraceID string    `json:"trace_id"`
	SpanID  string    `json:"span_id"`
	Seconds float64   `json:"seconds"`
	Time    time.Time `json:"time"`
	// TraceURL opens the trace in a trace viewer (WithTraceURLTemplate).
	TraceURL string `json:"trace_url,omitempty"`
}

// Redis describes the Redis clients behind the executor.
type Redis struct {
	// Pool sums the pools of every client.
	Pool        Pool        `json:"pool"`
	ScriptCache ScriptCache `json:"script_cache"`
	// StateCache is present only when the executor runs with a state cache.
	StateCache *StateCache `json:"state_cache,omitempty"`
	// ConnectionUp is false when any client reports its connection down,
	// null when no connection status was recorded.
	ConnectionUp *bool `json:"connection_up"`
	// Ping is present when the connection prober recorded pings: the round
	// trip to Redis itself, to tell a slow server from a slow executor.
	Ping *Ping `json:"ping,omitempty"`
	// Clients are the instrumented Redis clients, each with its own status
	// and pools, sorted by instance and name.
	Clients []Client `json:"clients"`
	// Commands break the Redis latency down per command (redisinstr's
	// db.client.operation.duration), sorted by name.
	Commands []Command `json:"commands"`
	// Embedded names the in-process server that stands in for Redis
	// (WithEmbeddedRedis): the latencies are its, not Redis's.
	Embedded string `json:"embedded,omitempty"`
}

// Client is one instrumented Redis client: its connection status and its
// pools (the command pool and go-redis's pipeline pool, per node for a
// cluster or ring).
type Client struct {
	// Name is the client's db.client.connection.pool.name.
	Name string `json:"name"`
	// Instance is the Prometheus instance that reported it (fleet reports).
	Instance string `json:"instance,omitempty"`
	// ConnectionUp is null when the client reported no status.
	ConnectionUp *bool `json:"connection_up"`
	// Pool sums the client's pools.
	Pool Pool `json:"pool"`
	// Pools are the client's pools one by one, sorted by name.
	Pools []Pool `json:"pools"`
}

// Command is the latency of one Redis command as the client saw it, pool
// wait included.
type Command struct {
	Name        string  `json:"name"`
	Count       uint64  `json:"count"`
	Errors      uint64  `json:"errors"`
	MeanSeconds float64 `json:"mean_seconds"`
	P50Seconds  float64 `json:"p50_seconds"`
	P90Seconds  float64 `json:"p90_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	MaxSeconds  float64 `json:"max_seconds"`
}

// Ping summarizes the connection prober's PING round trips.
type Ping struct {
	Count       uint64  `json:"count"`
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	MaxSeconds  float64 `json:"max_seconds"`
	MeanSeconds float64 `json:"mean_seconds"`
}

// Runtime holds the Go runtime's evidence for a slow tail: how long
// runnable goroutines waited for a CPU, and how long the world stopped for
// the garbage collector (runtime/metrics), over the window.
type Runtime struct {
	SchedulingLatency Latency `json:"scheduling_latency"`
	GCPauses          Latency `json:"gc_pauses"`
	// OSRunQueue is present on Linux: the waits the Go scheduler does not
	// see, of threads that the operating system did not run.
	OSRunQueue *RunQueue `json:"os_run_queue,omitempty"`
	// GC is the garbage collector's work over the window (process
	// reports): frequent collections cost CPU rather than long pauses.
	GC *GC `json:"gc,omitempty"`
}

// GC is the garbage collector's work over a window and its settings at
// the window's end.
type GC struct {
	Cycles          uint64  `json:"cycles"`
	CyclesPerSecond float64 `json:"cycles_per_second"`
	// CPUShare is the GC's share of the CPU time the process's Go code
	// used (runtime/metrics /cpu/classes: mark workers, assists, pauses).
	CPUShare      float64 `json:"cpu_share"`
	GOGC          uint64  `json:"gogc"`
	LiveHeapBytes uint64  `json:"live_heap_bytes"`
}

// RunQueue is how long the process's threads waited in the operating
// system's run queues, over the window.
type RunQueue struct {
	WaitSeconds     float64 `json:"wait_seconds"`
	Timeslices      uint64  `json:"timeslices"`
	MeanWaitSeconds float64 `json:"mean_wait_seconds"`
}

// Latency summarizes a distribution of waits.
type Latency struct {
	Count      uint64  `json:"count"`
	P50Seconds float64 `json:"p50_seconds"`
	P99Seconds float64 `json:"p99_seconds"`
	MaxSeconds float64 `json:"max_seconds"`
}

// Pool describes one Redis connection pool, or a sum of pools. Max, InUse,
// Idle and Utilization are the values at the end of the window; the others
// are counted over the window.
type Pool struct {
	// Name is the pool's db.client.connection.pool.name; empty for a sum.
	Name        string  `json:"name,omitempty"`
	Max         int64   `json:"max"`
	InUse       int64   `json:"in_use"`
	Idle        int64   `json:"idle"`
	Waits       uint64  `json:"waits"`
	WaitSeconds float64 `json:"wait_seconds"`
	Timeouts    uint64  `json:"timeouts"`
	Hits        uint64  `json:"hits"`
	Misses      uint64  `json:"misses"`
	Utilization float64 `json:"utilization"`
}

// ScriptCache counts how EVALSHA found the executor's Lua scripts.
type ScriptCache struct {
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	Reloads  uint64  `json:"reloads"`
	HitRatio float64 `json:"hit_ratio"`
	// ReloadsAfterWarmup counts the reloads after the warm-up period, the
	// ones the script_reloads rule judges; WarmingUp is true while the
	// window ends inside it.
	ReloadsAfterWarmup uint64 `json:"reloads_after_warmup"`
	WarmingUp          bool   `json:"warming_up"`
}

// StateCache counts the executor's local pod-state cache lookups.
type StateCache struct {
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	HitRatio float64 `json:"hit_ratio"`
}

// Severity ranks a suggestion.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Suggestion is one finding of the rules, with the numbers that fired it.
type Suggestion struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Operation is set for rules that judge one operation.
	Operation string `json:"operation,omitempty"`
	Message   string `json:"message"`
	// Cause is set by tail_latency: cpu, gc, pool, redis or unclear.
	Cause string `json:"cause,omitempty"`
	// Knob and Value are the setting the finding advises and the value
	// derived from the evidence (PoolSize 24, GOGC 400, WithStateCache 1
	// second); empty for advice that is a hint.
	Knob  string  `json:"knob,omitempty"`
	Value float64 `json:"value,omitempty"`
	// Evidence maps a metric (name{attributes}) or derived quantity to the
	// value that fired the rule.
	Evidence map[string]float64 `json:"evidence"`

	weight float64 // the share of calls it concerns, to order findings
}

// Operation returns the statistics of the named operation, or nil.
func (r *Report) Operation(name string) *Operation {
	for i := range r.Operations {
		if r.Operations[i].Name == name {
			return &r.Operations[i]
		}
	}
	return nil
}

// Timeline is the collector's kept history as one point per interval
// between consecutive snapshots, per operation: what the HTML page charts.
type Timeline struct {
	IntervalSeconds float64  `json:"interval_seconds"`
	Operations      []Series `json:"operations"` // sorted by name
}

// Series is one operation's points, oldest first.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Point is one interval of a Series.
type Point struct {
	End        time.Time `json:"end"`
	OpsPerSec  float64   `json:"ops_per_sec"`
	ErrorRate  float64   `json:"error_rate"`
	P99Seconds float64   `json:"p99_seconds"`
}
