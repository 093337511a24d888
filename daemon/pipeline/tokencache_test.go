package pipeline

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"go.uber.org/goleak"
)

// setUntilVisible sets token until Get sees it: ristretto may drop a Set
// (a full buffer), so one Set and Wait are not a guarantee.
func setUntilVisible(t *testing.T, c *verifiedTokens, token string, val *Verified) {
	t.Helper()
	for range 100 {
		c.Set(token, val, 10)
		c.Wait()
		if got, ok := c.Get(token); ok && got == val {
			return
		}
	}
	t.Fatalf("Set(%q) never became visible", token)
}

func TestVerifiedTokensGetSet(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := newVerifiedTokens(0)
	if err != nil {
		t.Fatalf("newVerifiedTokens: %v", err)
	}
	defer c.Close()
	if got := c.c.MaxCost(); got != DefaultTokenCacheBytes {
		t.Errorf("max cost = %d, want the default %d", got, DefaultTokenCacheBytes)
	}
	if _, ok := c.Get("a.b.c"); ok {
		t.Fatalf("empty cache: Get hit")
	}
	// The token may alias a buffer the caller reuses: the cache keeps a copy.
	one := new(Verified)
	buf := []byte("a.b.c")
	setUntilVisible(t, c, string(buf), one)
	copy(buf, "x.y.z")
	if got, ok := c.Get("a.b.c"); !ok || got != one {
		t.Fatalf("Get(a.b.c) = %p, %v after the caller's buffer changed; want %p, true", got, ok, one)
	}
	if _, ok := c.Get("a.b.d"); ok {
		t.Fatalf("Get of another token hit")
	}
	if got, ok := c.GetBytes([]byte("a.b.c")); !ok || got != one {
		t.Fatalf("GetBytes(a.b.c) = %p, %v; want %p, true (same hash as Get)", got, ok, one)
	}
	if _, ok := c.GetBytes([]byte("a.b.d")); ok {
		t.Fatalf("GetBytes of another token hit")
	}
}

// newVerifiedTokensHash takes the hash as a parameter, so a test can force
// collisions.
func newVerifiedTokensHash(maxBytes int64, hash func(string) uint64) (*verifiedTokens, error) {
	return newVerifiedTokensHashes(maxBytes, hash, func(b []byte) uint64 { return hash(string(b)) })
}

// TestVerifiedTokensCollision forces every token onto one hash: a Get must
// never return another token's value.
func TestVerifiedTokensCollision(t *testing.T) {
	c, err := newVerifiedTokensHash(1<<20, func(string) uint64 { return 42 })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	setUntilVisible(t, c, "first", new(Verified))
	if got, ok := c.Get("second"); ok {
		t.Fatalf("Get(second) = %p from a colliding entry, want a miss", got)
	}
	if got, ok := c.GetBytes([]byte("second")); ok {
		t.Fatalf("GetBytes(second) = %p from a colliding entry, want a miss", got)
	}
	setUntilVisible(t, c, "second", new(Verified))
	if got, ok := c.Get("first"); ok {
		t.Fatalf("Get(first) = %p after second replaced it, want a miss", got)
	}
}

// TestVerifiedTokensBudget checks that entries beyond the byte budget are
// evicted or refused.
func TestVerifiedTokensBudget(t *testing.T) {
	const budget = 20_000
	c, err := newVerifiedTokens(budget)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	token := func(i int) string { return fmt.Sprintf("%04d.%s", i, strings.Repeat("x", 100)) }
	for i := range 500 {
		c.Set(token(i), new(Verified), 1000)
	}
	c.Wait()
	held := 0
	for i := range 500 {
		if _, ok := c.Get(token(i)); ok {
			held++
		}
	}
	// Each entry costs 1000 plus its token plus the overhead.
	if limit := budget / 1000; held > limit {
		t.Fatalf("cache holds %d entries, want at most %d within %d bytes", held, limit, budget)
	}
}

func TestVerifiedTokensBadSize(t *testing.T) {
	if c, err := newVerifiedTokens(-1); err == nil {
		c.Close()
		t.Fatalf("newVerifiedTokens(-1) succeeded, want an error")
	}
}

// TestVerifiedTokensGetBytesAllocs checks that a hit through GetBytes does
// not copy the token: that copy was the hot path's only allocation.
func TestVerifiedTokensGetBytesAllocs(t *testing.T) {
	c, err := newVerifiedTokens(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	setUntilVisible(t, c, "a.b.c", new(Verified))
	tok := []byte("a.b.c")
	got := testing.AllocsPerRun(100, func() {
		if _, ok := c.GetBytes(tok); !ok {
			t.Fatal("GetBytes missed a visible entry")
		}
	})
	// ristretto hands its access buffer to the policy every 1024 Gets with
	// a fresh slice: amortised, well under one allocation per Get.
	if got >= 1 {
		t.Errorf("GetBytes hit: got %v allocs, want < 1", got)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestVerifiedTokensChargesWhatEntriesHold fills a cache and compares the
// heap it grew by with what Set charged: the charge must cover the heap
// (or the budget undercounts), and not by a wide margin (or the budget
// wastes memory). The margin is generous so a collection running late, or
// the maps' load factor, cannot fail it.
func TestVerifiedTokensChargesWhatEntriesHold(t *testing.T) {
	const n = 20_000
	valueCost := heapBytes(int(unsafe.Sizeof(Verified{}))) // a new(Verified) holds one allocation
	tokens := make([]string, n)
	values := make([]*Verified, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("%0100d", i)
		values[i] = new(Verified)
	}
	c, err := newVerifiedTokens(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	before := liveHeap()
	for i := range tokens {
		c.Set(tokens[i], values[i], valueCost)
		if i%256 == 255 {
			c.Wait() // a full buffer would drop Sets
		}
	}
	c.Wait()
	grown := int64(liveHeap()) - int64(before)
	held := 0
	for _, tok := range tokens {
		if _, ok := c.Get(tok); ok {
			held++
		}
	}
	if held < n/2 {
		t.Fatalf("cache holds %d of %d entries, too few to measure", held, n)
	}
	// The values were allocated before, so the cache's own growth is the
	// token copies, the entries and ristretto's maps.
	perEntry := float64(grown) / float64(held)
	charged := float64(heapBytes(len(tokens[0])) + entryOverhead)
	t.Logf("%d entries: heap grew %.0f B per entry, charged %.0f B beyond the value", held, perEntry, charged)
	if perEntry > charged {
		t.Errorf("an entry holds %.0f B beyond its value, but Set charges %.0f B", perEntry, charged)
	}
	if perEntry < charged/2 {
		t.Errorf("an entry holds %.0f B beyond its value, but Set charges %.0f B: over twice as much", perEntry, charged)
	}
	runtime.KeepAlive(values)
}
