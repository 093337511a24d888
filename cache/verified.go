package cache

import (
	"fmt"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// DefaultVerifiedBytes is the verified-token cache's default budget.
const DefaultVerifiedBytes = 64 << 20

// VerifiedTokens caches what verifying a token yielded, keyed by the token
// string, so a token seen again skips decoding and signature work.
//
// It is generic so the pipeline can store its own type here without this
// package importing it. It is a thin layer over ristretto, which admits,
// drops and evicts entries as it sees fit: a Set may be rejected, and a Get
// right after a Set may miss until Wait. Callers must therefore treat a miss
// as "verify again", never as an answer, and must re-check everything that
// depends on time or on the replica after a hit.
type VerifiedTokens[V any] struct {
	c *ristretto.Cache[string, V]
}

// NewVerifiedTokens returns a cache that holds at most maxBytes of entries,
// as measured by the costs passed to Set. maxBytes 0 means
// DefaultVerifiedBytes.
func NewVerifiedTokens[V any](maxBytes int64) (*VerifiedTokens[V], error) {
	if maxBytes == 0 {
		maxBytes = DefaultVerifiedBytes
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("verified-token cache: size %d is negative", maxBytes)
	}
	// ristretto wants about ten counters per entry it may hold; a verified
	// token costs roughly a kilobyte (token, claims and the precomputed
	// answer), so one counter per hundred bytes is about right.
	counters := max(maxBytes/100, 1024)
	c, err := ristretto.NewCache(&ristretto.Config[string, V]{
		NumCounters: counters,
		MaxCost:     maxBytes,
		BufferItems: 64,
		// Costs are the bytes an entry pins, computed by the caller; the
		// ristretto bookkeeping would only blur that budget.
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("verified-token cache: %w", err)
	}
	return &VerifiedTokens[V]{c: c}, nil
}

// Get returns the entry cached for token, if ristretto still holds one.
func (v *VerifiedTokens[V]) Get(token string) (V, bool) {
	return v.c.Get(token)
}

// Set offers an entry costing cost bytes for token, kept at most ttl (0
// means until evicted). ristretto may drop or reject it; that only costs a
// later re-verification.
func (v *VerifiedTokens[V]) Set(token string, val V, cost int64, ttl time.Duration) {
	if ttl < 0 {
		return
	}
	v.c.SetWithTTL(token, val, cost, ttl)
}

// Wait blocks until earlier Sets have been applied or dropped. Tests use it
// to make a Set visible; the request path never needs it.
func (v *VerifiedTokens[V]) Wait() { v.c.Wait() }

// Clear forgets every entry, for when the keys that verified them change.
func (v *VerifiedTokens[V]) Clear() { v.c.Clear() }

// Close stops ristretto's goroutines. The cache must not be used afterwards,
// and Close must not run concurrently with Get or Set.
func (v *VerifiedTokens[V]) Close() { v.c.Close() }
