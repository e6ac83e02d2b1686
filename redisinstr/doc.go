// Package redisinstr instruments a go-redis client (*redis.Client,
// *redis.ClusterClient or *redis.Ring) with what redisotel lacks or makes
// costly:
//
//   - connection pool metrics after the OTel database semantic conventions,
//     one series set per node, read from PoolStats in a single observable
//     callback (nothing on the command path);
//   - a connection status gauge and a ping latency histogram fed by a
//     background prober, so a dashboard sees Redis go down without waiting for
//     an operation to fail;
//   - an allocation-free db.client.operation.duration histogram per command,
//     with attributes prebuilt per command name (redisotel's metrics hook builds
//     a fresh attribute set on every command);
//   - optional command spans through redisotel, with caller lookup and command
//     text off unless asked for.
//
// Instrument covers every node of a cluster or ring, including nodes that
// appear later. Close unregisters the metric callback, stops the prober and
// turns the command hooks into pass-throughs (go-redis has no RemoveHook).
package redisinstr
