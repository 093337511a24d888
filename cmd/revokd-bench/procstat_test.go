package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadCPUOfSelf(t *testing.T) {
	m := startCPU(0)
	// Burn some CPU so the interval cannot be negative or fail to parse.
	x := 0
	for i := range 1_000_000 {
		x ^= i
	}
	_ = x
	got, err := m.stop()
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got < 0 {
		t.Errorf("cpu spent = %v, want >= 0", got)
	}
	if _, err := readCPU(1 << 30); err == nil {
		t.Error("readCPU of a PID that cannot exist: got no error")
	}
}

func TestTreePIDsHoldsRoot(t *testing.T) {
	pids := treePIDs(1)
	if len(pids) == 0 || pids[0] != 1 {
		t.Errorf("treePIDs(1) = %v, want it to start with 1", pids)
	}
	self := os.Getpid()
	found := false
	for _, p := range pids {
		found = found || p == self
	}
	if !found {
		t.Errorf("treePIDs(1) lacks this process %d: every process descends from PID 1", self)
	}
}

func TestFindProcessFindsSelf(t *testing.T) {
	args := os.Args
	if len(args) < 2 {
		t.Skip("the test binary was run without arguments to look for")
	}
	if got := findProcess(filepath.Base(args[0]), args[1]); got == 0 {
		t.Errorf("findProcess(%q, %q) = 0, want a PID (this process is %d)", filepath.Base(args[0]), args[1], os.Getpid())
	}
	if got := findProcess("no-such-program", "x"); got != 0 {
		t.Errorf("findProcess of a program that is not running = %d, want 0", got)
	}
}
