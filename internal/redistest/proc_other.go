//go:build !linux

package redistest

import "os/exec"

// setProcessGroup has no parent-death signal outside Linux; the test's
// cleanup kills the server.
func setProcessGroup(*exec.Cmd) {}
