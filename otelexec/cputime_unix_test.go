//go:build unix

package otelexec

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system, in all
// its threads: a benchmark's own work plus the garbage collector and
// background goroutines such as the span batch processor.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
