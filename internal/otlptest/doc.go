// Package otlptest is an in-process OTLP receiver for tests: one gRPC and
// one HTTP/protobuf endpoint on loopback, built on the collector service
// definitions of go.opentelemetry.io/proto/otlp, that records the spans and
// metrics it receives for assertions.
//
// Besides accepting, it can stand in for a collector that is down, and
// switch between these at run time with SetMode:
//
//   - BlackHole accepts connections and requests and never answers, like a
//     collector that hangs;
//   - Reject answers every export with a retryable error (gRPC UNAVAILABLE,
//     HTTP 503), like an overloaded one;
//   - Refuse stops listening and drops open connections, so clients get
//     "connection refused", like one that is not running. Leaving Refuse
//     listens again on the same ports.
package otlptest
