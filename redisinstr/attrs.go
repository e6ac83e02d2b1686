package redisinstr

import (
	"net"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// serverAttrs returns server.address and server.port of a node address; a
// Unix socket path is all address. A failover client's Addr is go-redis's
// placeholder, no address: it gets none.
func serverAttrs(addr string) []attribute.KeyValue {
	if addr == "FailoverClient" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []attribute.KeyValue{semconv.ServerAddress(addr)}
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return []attribute.KeyValue{semconv.ServerAddress(host)}
	}
	return []attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(p)}
}
