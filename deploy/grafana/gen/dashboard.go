package main

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's uid, stable so a link to it survives a re-import.
const UID = "sfotel-executor"

// Selectors every query starts from: the template variables of the
// dashboard, all multi-select, so every matcher is a regex. ops adds the
// operation filter for the executor's series.
const (
	sel = `job=~"$job", instance=~"$instance"`
	ops = sel + `, operation=~"$operation"`
)

// promDS is the Prometheus data source the dashboard's variable chose.
var promDS = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// query is one PromQL target.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(promDS).Expr(expr).LegendFormat(legend).Range()
}

// completed is the PromQL idiom for a counter whose series appear only
// with their first event (status="error", the errors counter): it reads 0
// per operation when there was none, instead of no data.
func completed(sumExpr, allExpr string) string {
	return fmt.Sprintf("(%s) or (%s) * 0", sumExpr, allExpr)
}

func variables() []cog.Builder[dashboard.VariableModel] {
	labelValues := func(name, label, q string) *dashboard.QueryVariableBuilder {
		return dashboard.NewQueryVariableBuilder(name).
			Label(label).
			Datasource(promDS).
			Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
			Definition(q).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".+")
	}
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"),
		labelValues("job", "Job", `label_values(stateful_executor_operations_total, job)`),
		labelValues("instance", "Instance", `label_values(stateful_executor_operations_total{job=~"$job"}, instance)`),
		labelValues("operation", "Operation", `label_values(stateful_executor_operations_total{job=~"$job"}, operation)`),
	}
}

// callRate is the executor's calls per second by operation, filter chosen.
func callRate(filter string) string {
	return fmt.Sprintf(`sum by (operation) (rate(stateful_executor_operations_total{%s}[$__rate_interval]))`, filter)
}

func executorRow() []cog.Builder[dashboard.Panel] {
	rate := callRate
	quantile := func(q string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum by (operation, le) (rate(stateful_executor_operation_duration_seconds_bucket{%s}[$__rate_interval])))`, q, ops)
	}
	return []cog.Builder[dashboard.Panel]{
		timeseries.NewPanelBuilder().
			Title("Throughput").
			Description("Executor calls per second, by operation (stateful_executor_operations_total).").
			Unit("reqps").Min(0).Span(8).Height(8).
			WithTarget(query("A", rate(ops), "{{operation}}")),
		timeseries.NewPanelBuilder().
			Title("Error ratio").
			Description("Share of calls that failed, by operation. The alert SfotelHighErrorRatio fires above 1% for 5 minutes.").
			Unit("percentunit").Min(0).Span(8).Height(8).
			WithTarget(query("A",
				"("+completed(rate(ops+`, status="error"`), rate(ops))+") / "+rate(ops),
				"{{operation}}")),
		timeseries.NewPanelBuilder().
			Title("Errors by type").
			Description("Failed calls per second by operation and error_type (docs/telemetry.md lists the types). 0 per operation when there was none.").
			Unit("reqps").Min(0).Span(8).Height(8).
			WithTarget(query("A",
				completed(fmt.Sprintf(`sum by (operation, error_type) (rate(stateful_executor_errors_total{%s}[$__rate_interval]))`, ops), rate(ops)),
				"{{operation}} {{error_type}}")),
		timeseries.NewPanelBuilder().
			Title("Latency p99, with exemplars").
			Description("99th percentile of each operation's duration. The dots are exemplars: a sampled call in a latency bucket, linked by its trace_id to the trace data source (deploy/grafana/provisioning/datasources.yml). The alert SfotelLatencyP99High fires above 50 ms for 10 minutes.").
			Unit("s").Min(0).Span(12).Height(9).
			WithTarget(query("A", quantile("0.99"), "{{operation}}").Exemplar(true)),
		timeseries.NewPanelBuilder().
			Title("Latency p50 and p90").
			Description("Median and 90th percentile of each operation's duration.").
			Unit("s").Min(0).Span(12).Height(9).
			WithTarget(query("A", quantile("0.5"), "p50 {{operation}}")).
			WithTarget(query("B", quantile("0.9"), "p90 {{operation}}")),
	}
}

// routingRow shows the routing-health signals. Without
// WithServiceAttributes the pod series carry no namespace or service, so
// grouping by them is a no-op there; the routers of a job read the same pod
// states, so max (not sum) over instances is the pods' view.
func routingRow() []cog.Builder[dashboard.Panel] {
	decisions := func(filter string) string {
		return fmt.Sprintf(`sum(rate(stateful_executor_routing_decisions_total{%s}[$__rate_interval]))`, filter)
	}
	// share is the fraction of decisions with outcome, 0 before the first.
	share := func(outcome string) string {
		return "(" + completed(decisions(sel+`, outcome="`+outcome+`"`), decisions(sel)) + ") / " + decisions(sel)
	}
	heartbeat := func(q string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum by (namespace, service, le) (rate(stateful_executor_pods_heartbeat_age_seconds_bucket{%s}[$__rate_interval])))`, q, sel)
	}
	return []cog.Builder[dashboard.Panel]{
		timeseries.NewPanelBuilder().
			Title("Routing decisions").
			Description("ComputeLinkedPod and RouteLinkedPod decisions per second, by outcome (docs/telemetry.md, Routing health): kept, kept_stale, linked, raced, no_live_pod, moved.").
			Unit("ops").Min(0).Span(8).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`sum by (outcome) (rate(stateful_executor_routing_decisions_total{%s}[$__rate_interval]))`, sel),
				"{{outcome}}")),
		timeseries.NewPanelBuilder().
			Title("Decisions without a live pod").
			Description("Share of decisions that found no live pod (no_live_pod: the login gets -1) or kept a user on a pod that is not live (kept_stale). The alerts SfotelNoLivePod and SfotelUsersOnDeadPods fire on them.").
			Unit("percentunit").Min(0).Span(8).Height(8).
			WithTarget(query("A", share("no_live_pod"), "no live pod")).
			WithTarget(query("B", share("kept_stale"), "kept on a dead pod")),
		timeseries.NewPanelBuilder().
			Title("Link moves").
			Description("Users' links replaced by a link to another pod, per second, by operation; 0 for SetLinkedPod, TrySetLinkedPod and RouteLinkedPod calls that moved nobody. The alert SfotelLinkMoveSurge fires on many moves per decision.").
			Unit("ops").Min(0).Span(8).Height(8).
			WithTarget(query("A",
				completed(fmt.Sprintf(`sum by (operation) (rate(stateful_executor_links_moved_total{%s}[$__rate_interval]))`, ops),
					callRate(ops+`, operation=~"SetLinkedPod|TrySetLinkedPod|RouteLinkedPod"`)),
				"{{operation}}")),
		timeseries.NewPanelBuilder().
			Title("Pods").
			Description("Live and stale (not live) pods in the pod states the last routing decision read, per service with WithServiceAttributes.").
			Unit("short").Min(0).Span(8).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`max by (namespace, service, state) (stateful_executor_pods{%s})`, sel),
				"{{service}} {{state}}")),
		timeseries.NewPanelBuilder().
			Title("Oldest live heartbeat").
			Description("Age of the oldest live heartbeat at each decision, median and 99th percentile. Near the aliveWithin the router passes, pods are about to be dropped: heartbeats are late.").
			Unit("s").Min(0).Span(8).Height(8).
			WithTarget(query("A", heartbeat("0.5"), "p50 {{service}}")).
			WithTarget(query("B", heartbeat("0.99"), "p99 {{service}}")),
		timeseries.NewPanelBuilder().
			Title("Load spread").
			Description("Highest live pod load divided by the mean live load, at the last decision: 1 is even; the number of live pods means all the load is on one pod.").
			Unit("none").Min(0).Span(8).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`max by (namespace, service) (stateful_executor_pods_load_spread_ratio{%s})`, sel),
				"{{service}}")),
	}
}

func redisRow() []cog.Builder[dashboard.Panel] {
	up, down := "up", "down"
	green, red := "green", "red"
	return []cog.Builder[dashboard.Panel]{
		stat.NewPanelBuilder().
			Title("Connection status").
			Description("What the connection prober of each instance and pool last saw: up when PING answered within the probe timeout. The alert SfotelRedisDown fires after a minute down.").
			Span(6).Height(8).
			Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
				Type: dashboard.MappingTypeValueToText,
				Options: map[string]dashboard.ValueMappingResult{
					"1": {Text: &up, Color: &green, Index: cog.ToPtr[int32](0)},
					"0": {Text: &down, Color: &red, Index: cog.ToPtr[int32](1)},
				},
			}}}).
			WithTarget(query("A",
				fmt.Sprintf(`max by (instance, db_client_connection_pool_name) (stateful_executor_redis_connection_status{%s, status="up"})`, sel),
				"{{instance}} {{db_client_connection_pool_name}}")),
		timeseries.NewPanelBuilder().
			Title("PING round trip p99").
			Description("The prober's PING to Redis itself: slow here too means Redis or the network is slow, not the executor.").
			Unit("s").Min(0).Span(6).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`histogram_quantile(0.99, sum by (instance, le) (rate(stateful_executor_redis_ping_duration_seconds_bucket{%s}[$__rate_interval])))`, sel),
				"{{instance}}")),
		timeseries.NewPanelBuilder().
			Title("Pool connections").
			Description("go-redis pool connections in use and idle, and the pool's size, per instance (pipeline pools are their own pool, <name>/pipeline).").
			Unit("short").Min(0).Span(6).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`sum by (instance, db_client_connection_state) (db_client_connection_count{%s})`, sel),
				"{{instance}} {{db_client_connection_state}}")).
			WithTarget(query("B",
				fmt.Sprintf(`sum by (instance) (db_client_connection_max{%s})`, sel),
				"{{instance}} max")),
		timeseries.NewPanelBuilder().
			Title("Pool utilization").
			Description("In use / max, per pool. The alert SfotelRedisPoolSaturated fires above 90% for 10 minutes.").
			Unit("percentunit").Min(0).Max(1).Span(6).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`max by (instance, db_client_connection_pool_name) (stateful_executor_redis_pool_utilization_ratio{%s})`, sel),
				"{{instance}} {{db_client_connection_pool_name}}")),
		timeseries.NewPanelBuilder().
			Title("Pool waits and timeouts").
			Description("Calls per second that waited for a pooled connection, and that gave up after PoolTimeout (error_type pool_timeout). The alert SfotelRedisPoolTimeouts fires on any timeout for 5 minutes.").
			Unit("reqps").Min(0).Span(12).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`sum by (instance) (rate(stateful_executor_redis_pool_waits_total{%s}[$__rate_interval]))`, sel),
				"{{instance}} waits")).
			WithTarget(query("B",
				fmt.Sprintf(`sum by (instance) (rate(db_client_connection_timeouts_total{%s}[$__rate_interval]))`, sel),
				"{{instance}} timeouts")),
		timeseries.NewPanelBuilder().
			Title("Redis command latency p99").
			Description("99th percentile of each Redis command the client sent (db.client.operation.duration), Lua scripts and pipelines included.").
			Unit("s").Min(0).Span(12).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`histogram_quantile(0.99, sum by (db_operation_name, le) (rate(db_client_operation_duration_seconds_bucket{%s}[$__rate_interval])))`, sel),
				"{{db_operation_name}}")),
	}
}

func scriptRow() []cog.Builder[dashboard.Panel] {
	return []cog.Builder[dashboard.Panel]{
		timeseries.NewPanelBuilder().
			Title("Script cache hit ratio").
			Description("Share of EVALSHA calls whose script Redis still had. Below 1 after the warm-up means Redis lost the scripts (SCRIPT FLUSH, restart, failover).").
			Unit("percentunit").Min(0).Max(1).Span(12).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`min by (instance) (stateful_executor_cache_hit_ratio{%s, cache_type="script"})`, sel),
				"{{instance}}")),
		timeseries.NewPanelBuilder().
			Title("Script reloads").
			Description("SCRIPT LOADs after a NOSCRIPT, per instance. The alert SfotelScriptReloadStorm fires on more than 10 in 5 minutes.").
			Unit("short").Min(0).Span(12).Height(8).
			WithTarget(query("A",
				fmt.Sprintf(`sum by (instance) (increase(stateful_executor_script_cache_reloads_total{%s}[$__rate_interval]))`, sel),
				"{{instance}}")),
	}
}

// build assembles the dashboard.
func build() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("sfotel: stateful executor").
		Uid(UID).
		Readonly(). // generated: a change made in Grafana would be lost
		Description("Throughput, errors and latency of the sfotel executor's operations, its routing decisions and the pods they saw, its Redis client's pool and connection, and the Lua script cache. Generated by deploy/grafana/gen; edit dashboard.go there, not this JSON.").
		Tags([]string{"sfotel", "redis", "opentelemetry"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Variables(variables()).
		Link(dashboard.NewDashboardLinkBuilder("Alerts and runbooks").
			Type(dashboard.DashboardLinkTypeLink).
			Url("https://github.com/statefulroute/sfotel/blob/main/docs/dashboards.md").
			TargetBlank(true))
	for _, row := range []struct {
		title  string
		panels []cog.Builder[dashboard.Panel]
	}{
		{"Executor", executorRow()},
		{"Routing", routingRow()},
		{"Redis client", redisRow()},
		{"Lua script cache", scriptRow()},
	} {
		b = b.WithRow(dashboard.NewRowBuilder(row.title))
		for _, p := range row.panels {
			b = b.WithPanel(p)
		}
	}
	d, err := b.Build()
	if err != nil {
		return d, err
	}
	// Grafana wants ids unique within the dashboard; number them in order.
	// A panel names the data source too, not only its targets: Grafana
	// gives a panel without one the default data source.
	for i := range d.Panels {
		id := uint32(i + 1)
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			p.Panel.Id = &id
			p.Panel.Datasource = &promDS
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}

// dashboardJSON is the file gen writes: indented, with a final newline.
func dashboardJSON() ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
