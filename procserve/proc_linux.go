package procserve

import "syscall"

// setDeathSignal has the kernel kill the child when the thread that
// started it dies, so a crashed server leaves no model process behind.
// Go may retire that thread early (rarely); the supervisor then sees a
// child that exited and restarts it.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
