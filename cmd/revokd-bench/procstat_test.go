package main

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// Fields after the name: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime ...
	tests := []struct {
		name    string
		data    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (revokd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0\n", 3 * time.Second, false},
		{"name with spaces and parens", "42 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 7 3 9 9 20 0 1 0", 100 * time.Millisecond, false},
		{"zero", "7 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0", 0, false},
		{"no name", "1234 revokd S 1", 0, true},
		{"too few fields", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 5", 0, true},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 five 3 0 0", 0, true},
		{"negative", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 3 0 0", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %t", err, tc.wantErr)
			}
			if time.Duration(got) != tc.want {
				t.Errorf("got %v, want %v", time.Duration(got), tc.want)
			}
		})
	}
}

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

func TestParsePPID(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr bool
	}{
		{"plain", "1234 (postgres) S 77 1234 1234 0", 77, false},
		{"name with parens", "5 (a) b) R 9 1", 9, false},
		{"no name", "5 a R 9", 0, true},
		{"short", "5 (a) R", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePPID([]byte(tc.data))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v; want %d, error %t", got, err, tc.want, tc.wantErr)
			}
		})
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
