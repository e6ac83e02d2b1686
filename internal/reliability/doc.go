// Package reliability holds the black-box fault, cluster, security and
// concurrency tests of sfotel. It has no code of its own: every file besides
// this one is a _test.go file that drives the public API of otelexec (and of
// redisinstr and exporters where a promise spans them) against real
// redis-server processes that the tests start, kill, pause, flush and reshard.
//
// What each test promises, and the figures the tests produced, are written up
// in docs/reliability.md. Run them with
//
//	go test -race ./internal/reliability/
//
// The tests never disturb the shared Redis on 127.0.0.1:6379: every fault is
// injected into a server started by redistest.StartServer or StartCluster.
package reliability
