package cache

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// setUntilVisible sets token until Get sees it: ristretto may drop a Set
// (a full buffer), so one Set and Wait are not a guarantee.
func setUntilVisible(t *testing.T, c *VerifiedTokens[int], token string, val int) {
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
	c, err := NewVerifiedTokens[int](0)
	if err != nil {
		t.Fatalf("NewVerifiedTokens: %v", err)
	}
	defer c.Close()
	if got := c.c.MaxCost(); got != DefaultVerifiedBytes {
		t.Errorf("max cost = %d, want the default %d", got, DefaultVerifiedBytes)
	}
	if _, ok := c.Get("a.b.c"); ok {
		t.Fatalf("empty cache: Get hit")
	}
	// The token may alias a buffer the caller reuses: the cache keeps a copy.
	buf := []byte("a.b.c")
	setUntilVisible(t, c, string(buf), 1)
	copy(buf, "x.y.z")
	if got, ok := c.Get("a.b.c"); !ok || got != 1 {
		t.Fatalf("Get(a.b.c) = %d, %v after the caller's buffer changed; want 1, true", got, ok)
	}
	if _, ok := c.Get("a.b.d"); ok {
		t.Fatalf("Get of another token hit")
	}
	if got, ok := c.GetBytes([]byte("a.b.c")); !ok || got != 1 {
		t.Fatalf("GetBytes(a.b.c) = %d, %v; want 1, true (same hash as Get)", got, ok)
	}
	if _, ok := c.GetBytes([]byte("a.b.d")); ok {
		t.Fatalf("GetBytes of another token hit")
	}
}

// newVerifiedTokens takes the hash as a parameter, so a test can force
// collisions.
func newVerifiedTokens[V any](maxBytes int64, hash func(string) uint64) (*VerifiedTokens[V], error) {
	return newVerifiedTokensHashes[V](maxBytes, hash, func(b []byte) uint64 { return hash(string(b)) })
}

// TestVerifiedTokensCollision forces every token onto one hash: a Get must
// never return another token's value.
func TestVerifiedTokensCollision(t *testing.T) {
	c, err := newVerifiedTokens[int](1<<20, func(string) uint64 { return 42 })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	setUntilVisible(t, c, "first", 1)
	if got, ok := c.Get("second"); ok {
		t.Fatalf("Get(second) = %d from a colliding entry, want a miss", got)
	}
	if got, ok := c.GetBytes([]byte("second")); ok {
		t.Fatalf("GetBytes(second) = %d from a colliding entry, want a miss", got)
	}
	setUntilVisible(t, c, "second", 2)
	if got, ok := c.Get("first"); ok {
		t.Fatalf("Get(first) = %d after second replaced it, want a miss", got)
	}
}

// TestVerifiedTokensBudget checks that entries beyond the byte budget are
// evicted or refused.
func TestVerifiedTokensBudget(t *testing.T) {
	const budget = 20_000
	c, err := NewVerifiedTokens[int](budget)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	token := func(i int) string { return fmt.Sprintf("%04d.%s", i, strings.Repeat("x", 100)) }
	for i := range 500 {
		c.Set(token(i), i, 1000)
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
	if c, err := NewVerifiedTokens[int](-1); err == nil {
		c.Close()
		t.Fatalf("NewVerifiedTokens(-1) succeeded, want an error")
	}
}

// TestVerifiedTokensGetBytesAllocs checks that a hit through GetBytes does
// not copy the token: that copy was the hot path's only allocation.
func TestVerifiedTokensGetBytesAllocs(t *testing.T) {
	c, err := NewVerifiedTokens[int](0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	setUntilVisible(t, c, "a.b.c", 1)
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
