package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/revokd/revokd/cache"
)

// The verified-token cache's budget bounds its live heap, but the Go
// collector lets the heap grow to twice what was live at the last
// collection (GOGC=100) before it runs again, and a stream of distinct
// tokens leaves a verification's garbage (about 5 KiB) behind each one.
// With --token-cache-mb 64 and 800k distinct tokens that put RSS at 190 MB
// for 80 MB live. A soft memory limit (GOMEMLIMIT) sized from the budget
// makes the collector run before the heap gets there; the price is more
// collections, paid only while tokens are new (a cache hit allocates
// nothing). BENCHMARKS.md has the figures.

const (
	// memLimitHeadroom is the limit's share above the cache budget, in
	// halves: what the heap may hold beyond the cache's charged bytes
	// (ristretto's Sets still in its buffers, request buffers) plus the
	// garbage between collections. At a quarter, cold validations cost
	// twice the CPU; at a half, about 1.4 times.
	memLimitHeadroom = 2
	// memLimitBase is the runtime and the daemon without a cache.
	memLimitBase = 16 << 20
	// replicaEntryBytes is an upper estimate of one cutoff or denial in the
	// replica (map slot, id or claim value, timestamps). The replica is not
	// bounded by the cache setting, so the limit follows its size: a limit
	// below the live heap would have the collector run without pause.
	replicaEntryBytes = 512
	// memLimitEvery is how often the limit follows the replica's size.
	memLimitEvery = 30 * time.Second
)

// memoryLimit is the soft memory limit for a daemon whose verified-token
// cache may hold cacheBytes and whose replica holds revocations entries.
func memoryLimit(cacheBytes int64, revocations int) int64 {
	return cacheBytes + cacheBytes/memLimitHeadroom + memLimitBase + int64(revocations)*replicaEntryBytes
}

// operatorSetMemoryLimit reports whether GOMEMLIMIT is in the environment.
// The operator's value wins, "off" included: the runtime has applied it
// already, and serve leaves the limit alone.
func operatorSetMemoryLimit() bool {
	_, ok := os.LookupEnv("GOMEMLIMIT")
	return ok
}

// followMemoryLimit sets the soft memory limit from the cache budget and
// the replica's size, and keeps it current until ctx is done.
func followMemoryLimit(ctx context.Context, cacheBytes int64, replica *cache.Replica, log *slog.Logger) error {
	last := int64(-1)
	set := func() {
		cutoffs, denials := replica.Sizes()
		limit := memoryLimit(cacheBytes, cutoffs+denials)
		if limit == last {
			return
		}
		debug.SetMemoryLimit(limit)
		level := slog.LevelDebug
		if last < 0 {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "memory limit set (GOMEMLIMIT overrides it)", "limit_mib", limit>>20,
			"token_cache_mib", cacheBytes>>20, "revocations", cutoffs+denials)
		last = limit
	}
	set()
	t := time.NewTicker(memLimitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			set()
		}
	}
}
