package testenv

import (
	"os/exec"
	"syscall"
)

// DiesWithTest makes the kernel kill cmd's process when the test process
// dies: a test binary that panics or times out runs no cleanup, and
// without this its servers keep running (and keep a CPU busy) after it.
func DiesWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
