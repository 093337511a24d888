package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"testing"

	"github.com/revokd/revokd/cache"
)

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name        string
		cacheBytes  int64
		revocations int
		want        int64
	}{
		{"8 MiB cache", 8 << 20, 0, 28 << 20},
		{"64 MiB cache", 64 << 20, 0, 112 << 20},
		{"64 MiB cache and 20k revocations", 64 << 20, 20_000, 112<<20 + 20_000*replicaEntryBytes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := memoryLimit(tc.cacheBytes, tc.revocations); got != tc.want {
				t.Errorf("memoryLimit(%d, %d) = %d, want %d", tc.cacheBytes, tc.revocations, got, tc.want)
			}
		})
	}
}

func TestOperatorSetMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "off")
	if !operatorSetMemoryLimit() {
		t.Errorf("GOMEMLIMIT=off: operatorSetMemoryLimit() = false, want true")
	}
	os.Unsetenv("GOMEMLIMIT") // t.Setenv restores it afterwards
	if operatorSetMemoryLimit() {
		t.Errorf("no GOMEMLIMIT: operatorSetMemoryLimit() = true, want false")
	}
}

func TestFollowMemoryLimitSetsLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	replica := cache.NewReplica(cache.SystemClock{}, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // set once, then return
	if err := followMemoryLimit(ctx, 8<<20, replica, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("followMemoryLimit: %v", err)
	}
	if got, want := debug.SetMemoryLimit(-1), memoryLimit(8<<20, 0); got != want {
		t.Errorf("memory limit %d, want %d", got, want)
	}
}
