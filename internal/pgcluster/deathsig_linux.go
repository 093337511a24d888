package pgcluster

import "syscall"

// setDeathSignal asks Linux to send sig to the child when the process that
// started it dies, so a crashed parent leaves no server running.
func setDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) { a.Pdeathsig = sig }
