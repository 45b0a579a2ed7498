//go:build !unix

package procserve

import "os/exec"

// setProcAttr does nothing where process groups are unknown.
func setProcAttr(*exec.Cmd) {}

// killGroup kills the child itself where process groups are unknown.
func killGroup(cmd *exec.Cmd, _ bool) { _ = cmd.Process.Kill() }
