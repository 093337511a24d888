package pipeline

import (
	"fmt"
	"hash/maphash"
	"strings"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2"
)

// verifiedTokens caches what verifying a token yielded, keyed by the token
// string, so a token seen again skips decoding and signature work.
//
// It is a thin layer over ristretto, which admits, drops and evicts entries
// as it sees fit: a Set may be rejected, and a Get right after a Set may
// miss until Wait. Callers must therefore treat a miss as "verify again",
// never as an answer, and must re-check everything that depends on time or
// on the replica after a hit.
type verifiedTokens struct {
	// Keyed by the token's hash, computed here: ristretto would hash a
	// string key through a function value, so a token held as bytes would
	// have to be copied into a string for every lookup.
	c         *ristretto.Cache[uint64, *verifiedEntry]
	hash      func(string) uint64
	hashBytes func([]byte) uint64 // equal to hash for the same bytes
}

// verifiedEntry keeps the token beside its value. ristretto knows keys only
// by their hash, so Get compares the token itself: a hash collision, chance
// or crafted, can cost a miss but can never return another token's value.
type verifiedEntry struct {
	token string
	val   *Verified
}

// entryOverhead is what an entry holds beyond its token's bytes and its
// value's cost: the verifiedEntry itself, and ristretto's bookkeeping for
// it, which IgnoreInternalCost leaves for us to count. ristretto keeps
// each item in its store's map (a 48-byte storeItem and the 8-byte key per
// slot) and its cost in the policy's map (16 bytes per slot); Go's maps
// run between 7/16 and 7/8 full and add a control byte per slot, so
// those two cost 84 to 170 bytes an item. It is charged at the worst, so a
// full cache stays under its budget whatever the maps' load.
var entryOverhead = heapBytes(int(unsafe.Sizeof(verifiedEntry{}))) + ristrettoItemBytes

// ristrettoItemBytes is ristretto's per-item heap at the maps' lowest load:
// (8+48+1)*16/7 + (16+1)*16/7.
const ristrettoItemBytes = 170

// newVerifiedTokens returns a cache that holds at most maxBytes of entries,
// as measured by the costs passed to Set plus each token's copy and
// entryOverhead. maxBytes 0 means DefaultTokenCacheBytes. ristretto's
// counters (about 2 bytes per 100 bytes of budget) and the Sets still in
// its buffers are outside the budget.
func newVerifiedTokens(maxBytes int64) (*verifiedTokens, error) {
	seed := maphash.MakeSeed()
	// maphash hashes a byte sequence the same way whether it comes as a
	// string or a slice.
	return newVerifiedTokensHashes(maxBytes,
		func(token string) uint64 { return maphash.String(seed, token) },
		func(token []byte) uint64 { return maphash.Bytes(seed, token) })
}

func newVerifiedTokensHashes(maxBytes int64, hash func(string) uint64, hashBytes func([]byte) uint64) (*verifiedTokens, error) {
	if maxBytes == 0 {
		maxBytes = DefaultTokenCacheBytes
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("verified-token cache: size %d is negative", maxBytes)
	}
	// ristretto wants about ten counters per entry it may hold; a verified
	// token costs roughly a kilobyte (token, claims and the precomputed
	// answer), so one counter per hundred bytes is about right.
	counters := max(maxBytes/100, 1024)
	c, err := ristretto.NewCache(&ristretto.Config[uint64, *verifiedEntry]{
		NumCounters: counters,
		MaxCost:     maxBytes,
		// Every Get records its key in a per-P stripe that, when full, is
		// handed to ristretto's policy goroutine. With the usual 64 that
		// goroutine woke every 64 hits and competed with the connection
		// goroutines for the 2 cores: measured over a real socket, a cached
		// HS256 validate cost 1.3-1.47x a bare echo with 64 and 1.09-1.12x
		// with 1024 (a plain map instead of ristretto: 1.10x), and perf stat
		// counted 45-52k context switches per 100k round trips with 64
		// against 3-5k with 1024. Larger batches
		// only make the admission policy learn frequencies a little later.
		BufferItems: 1024,
		// Costs are the bytes an entry pins, computed by the caller; the
		// ristretto bookkeeping would only blur that budget.
		IgnoreInternalCost: true,
		// One seeded hash instead of ristretto's two: Get confirms the
		// token itself, so a second hash to tell collisions apart would be
		// work for nothing on every lookup.
		KeyToHash: func(h uint64) (uint64, uint64) { return h, 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("verified-token cache: %w", err)
	}
	return &verifiedTokens{c: c, hash: hash, hashBytes: hashBytes}, nil
}

// Get returns the entry cached for token, if ristretto still holds one.
func (v *verifiedTokens) Get(token string) (*Verified, bool) {
	e, ok := v.c.Get(v.hash(token))
	if !ok || e.token != token {
		return nil, false
	}
	return e.val, true
}

// GetBytes is Get for a token held in a buffer, such as a request line:
// neither the hash nor the comparison copies it into a string.
func (v *verifiedTokens) GetBytes(token []byte) (*Verified, bool) {
	e, ok := v.c.Get(v.hashBytes(token))
	if !ok || e.token != string(token) {
		return nil, false
	}
	return e.val, true
}

// Set offers val for token, costing cost bytes (the heap val holds, as
// heapBytes rounds it; Verified.cost) plus the token's copy and entryOverhead. The
// token is copied, so it may alias a buffer the caller reuses. ristretto may
// drop or reject the entry; that only costs a later re-verification.
//
// Entries have no time to live: an entry for an expired token is still a
// cheap way to say "expired" and leaves when the budget needs room.
func (v *verifiedTokens) Set(token string, val *Verified, cost int64) {
	e := &verifiedEntry{token: strings.Clone(token), val: val}
	v.c.Set(v.hash(e.token), e, cost+heapBytes(len(token))+entryOverhead)
}

// Wait blocks until earlier Sets have been applied or dropped. Tests use it
// to make a Set visible; the request path never needs it.
func (v *verifiedTokens) Wait() { v.c.Wait() }

// Close stops ristretto's goroutines. The cache must not be used afterwards,
// and Close must not run concurrently with Get or Set.
func (v *verifiedTokens) Close() { v.c.Close() }
