// Package redistest gives tests a real Redis.
//
// Addr finds one in this order: REDIS_ADDR if set; 127.0.0.1:6379 if it
// answers; a redis-server found on PATH, started on a free port for the test
// run; else the embedded miniredis, with a logged notice. REDIS_REQUIRED=1
// (set in .ci/run) turns the last fallback into a failure, so CI never passes
// on the embedded server by accident.
//
// StartServer and StartCluster start test-owned redis-server processes for
// tests that must stop, kill or reshard the server they talk to.
package redistest
