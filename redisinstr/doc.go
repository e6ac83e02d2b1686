// Package redisinstr instruments a go-redis client (*redis.Client,
// *redis.ClusterClient or *redis.Ring) with what redisotel lacks or makes
// costly:
//
//   - connection pool metrics after the OTel database semantic conventions
//     (db.client.connection.*), one series set per node, read from PoolStats
//     in a single observable callback: nothing on the command path. The pool
//     name is the client's name (WithPoolName, by default its address); for a
//     cluster or ring, each node's address. go-redis runs pipelines on a pool
//     of their own, reported as "<pool name>/pipeline".
//   - stateful_executor_redis_connection_status{status="up"|"down"}, one pair
//     of series per client, and a ping latency histogram, fed by a
//     background prober that PINGs every node over a connection of its own.
//     The status says whether the server is reachable and answers within the
//     probe timeout, whatever the client's pool is doing: every shard of a
//     ring, every master of a cluster (one failing master fails its slots).
//   - db.client.operation.duration per command and pipeline without an
//     allocation: the attribute sets are built once per command name from a
//     fixed table (a command outside it has no db.operation.name), where
//     redisotel's metrics hook builds a fresh set on every command.
//   - optional CLIENT spans per command and pipeline (WithCommandSpans) after
//     the semantic conventions for Redis, v1.43.0 (redisotel emits v1.24
//     names), with caller lookup and command text off unless asked for. While
//     they are on, the executor's operation spans on the same client become
//     INTERNAL, so each round trip is counted once.
//
// Instrument covers every node of a cluster or ring, including nodes that
// appear later, and drops the series of nodes go-redis closes. It waits at
// most two probe timeouts and Close at most one, whatever the client's own
// timeouts. Close unregisters the metric callback, stops the prober and
// turns the command hooks into pass-throughs (go-redis has no RemoveHook).
//
// The instruments use the instrumentation scope ScopeName, so they share a
// MeterProvider with the executor's (package otelexec) without conflict.
package redisinstr
