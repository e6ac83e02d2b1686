//go:build !unix

package otelexec

import "time"

// processCPU is not measured outside Unix; benchmarks then leave out their
// cpu-ns/op figure.
func processCPU() (time.Duration, bool) { return 0, false }
