//go:build unix

package procserve

import (
	"os/exec"
	"syscall"
)

// setProcAttr runs the child in a process group of its own, so that
// killGroup also reaches the processes it starts (MLflow's workers).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
}

// killGroup sends SIGTERM (hard: SIGKILL) to the child's process group.
func killGroup(cmd *exec.Cmd, hard bool) {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
