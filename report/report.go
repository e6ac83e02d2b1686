package report

import "time"

// SchemaVersion is the version of the JSON schema in docs/report.md. It
// changes when a field is renamed or removed or changes meaning.
const SchemaVersion = 1

// Report is a performance report over one window. Snapshot fills it with
// cumulative data since the instruments started; Delta turns two snapshots
// into an interval report. All durations are seconds.
type Report struct {
	SchemaVersion int          `json:"schema_version"`
	GeneratedAt   time.Time    `json:"generated_at"`
	Window        Window       `json:"window"`
	Service       Service      `json:"service"`
	Operations    []Operation  `json:"operations"` // sorted by name
	Redis         Redis        `json:"redis"`
	Suggestions   []Suggestion `json:"suggestions"` // critical first, then warning, info

	raw *rawData // the counts behind the numbers, for Delta
	cfg *config  // the rules' thresholds, for Delta
}

// Window is the time span a report covers.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
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
}

// Redis describes the Redis client behind the executor.
type Redis struct {
	Pool        Pool        `json:"pool"`
	ScriptCache ScriptCache `json:"script_cache"`
	// StateCache is present only when the executor runs with a state cache.
	StateCache *StateCache `json:"state_cache,omitempty"`
	// ConnectionUp is null when no connection status was recorded.
	ConnectionUp *bool `json:"connection_up"`
	// Ping is present when the connection prober recorded pings: the round
	// trip to Redis itself, to tell a slow server from a slow executor.
	Ping *Ping `json:"ping,omitempty"`
}

// Ping summarizes the connection prober's PING round trips.
type Ping struct {
	Count       uint64  `json:"count"`
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	MaxSeconds  float64 `json:"max_seconds"`
	MeanSeconds float64 `json:"mean_seconds"`
}

// Pool describes the Redis connection pools, summed over pools and nodes.
// Max, InUse, Idle and Utilization are the values at the end of the window;
// the others are counted over the window.
type Pool struct {
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
	// Evidence maps a metric (name{attributes}) or derived quantity to the
	// value that fired the rule.
	Evidence map[string]float64 `json:"evidence"`
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
