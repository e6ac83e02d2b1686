// Package redisinstr instruments a go-redis client (*redis.Client,
// *redis.ClusterClient or *redis.Ring) with what redisotel lacks or makes
// costly:
//
//   - connection pool metrics after the OTel database semantic conventions
//     (db.client.connection.*), one series set per node, read from PoolStats
//     in a single observable callback: nothing on the command path. The pool
//     name is the node address, or the name given by WithPoolName (a prefix
//     of the node address for a cluster or ring). go-redis runs pipelines on a
//     pool of their own, reported as "<pool name>/pipeline".
//   - stateful_executor_redis_connection_status{status="up"|"down"} and a ping
//     latency histogram, fed by a background prober that PINGs every node. The
//     status is up only when the client answers: every shard of a ring, every
//     master of a cluster (one failing master fails its slots).
//   - db.client.operation.duration per command without an allocation: the
//     attribute sets are built once per command name from a fixed table
//     (other names count as "_OTHER"), where redisotel's metrics hook builds a
//     fresh set on every command.
//   - optional command spans through redisotel (WithCommandSpans), with caller
//     lookup and command text off unless asked for.
//
// Instrument covers every node of a cluster or ring, including nodes that
// appear later, and drops the series of nodes go-redis closes. Close
// unregisters the metric callback, stops the prober and turns the command
// hooks into pass-throughs (go-redis has no RemoveHook).
//
// The instruments use the instrumentation scope ScopeName, so they share a
// MeterProvider with the executor's (package otelexec) without conflict.
package redisinstr
