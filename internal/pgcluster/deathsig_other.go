//go:build !linux

package pgcluster

import "syscall"

// setDeathSignal does nothing where the kernel has no parent-death signal
// (macOS among them): a child outlives a parent that crashes without
// stopping it, and must be stopped by hand. This file exists so development
// machines build; Linux, where CI and production run, has the signal.
func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
