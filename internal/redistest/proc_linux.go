//go:build linux

package redistest

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes the server die with the test binary (Pdeathsig) so an
// aborted test run leaves no redis-server behind.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
