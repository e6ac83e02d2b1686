// Package redisinstr instruments a go-redis client (*redis.Client,
// *redis.ClusterClient or *redis.Ring) with what redisotel lacks or makes
// costly:
//
//   - connection pool metrics after the OTel database semantic conventions
//     (db.client.connection.*), read from PoolStats in one observable
//     callback: nothing on the command path. The pool is named after the
//     client (WithPoolName, by default its address), or after each node of a
//     cluster or ring; pipelines run on a pool of their own, "<name>/pipeline".
//   - stateful_executor_redis_connection_status{status="up"|"down"} and a
//     ping latency histogram, from a background prober that PINGs every
//     node over a connection of its own: whether Redis answers within the
//     probe timeout, whatever the client's pool is doing.
//   - db.client.operation.duration per command and pipeline without an
//     allocation: the attribute sets are built once per command name, where
//     redisotel's metrics hook builds one on every command.
//   - optional CLIENT spans per command and pipeline (WithCommandSpans) after
//     the semantic conventions for Redis, v1.43.0 (redisotel emits v1.24
//     names). While they are on, the executor's operation spans on the same
//     client become INTERNAL, so each round trip is counted once.
//
// Instrument covers every node of a cluster or ring, those that appear
// later too, and drops the series of nodes go-redis closes; Close undoes it.
// The instruments use the scope ScopeName, so they share a MeterProvider with
// the executor's without conflict; docs/telemetry.md in the repository lists
// them.
package redisinstr
