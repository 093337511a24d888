package cache

import (
	"fmt"
	"runtime"
	"testing"
)

func TestHeapBytes(t *testing.T) {
	tests := []struct {
		n    int
		want int64
	}{
		{0, 0}, {1, 8}, {8, 8}, {9, 16}, {100, 112}, {257, 288}, {4097, 4864},
		{32768, 32768}, {32769, 40960},
	}
	for _, tc := range tests {
		if got := HeapBytes(tc.n); got != tc.want {
			t.Errorf("HeapBytes(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestHeapBytesMatchesAllocator checks the table against the allocator
// itself: a fresh byte slice of n bytes must report HeapBytes(n) as its
// capacity when grown by append, which rounds up to the size class.
func TestHeapBytesMatchesAllocator(t *testing.T) {
	for n := 1; n <= 40000; n += 37 {
		got := cap(append([]byte(nil), make([]byte, n)...))
		if int64(got) != HeapBytes(n) {
			t.Fatalf("append of %d bytes has capacity %d, HeapBytes says %d", n, got, HeapBytes(n))
		}
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
	const valueCost = 64 // a *[64]byte holds one 64-byte allocation
	tokens := make([]string, n)
	values := make([]*[64]byte, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("%0100d", i)
		values[i] = new([64]byte)
	}
	c, err := NewVerifiedTokens[*[64]byte](64 << 20)
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
	charged := float64(HeapBytes(len(tokens[0])) + entryOverhead)
	t.Logf("%d entries: heap grew %.0f B per entry, charged %.0f B beyond the value", held, perEntry, charged)
	if perEntry > charged {
		t.Errorf("an entry holds %.0f B beyond its value, but Set charges %.0f B", perEntry, charged)
	}
	if perEntry < charged/2 {
		t.Errorf("an entry holds %.0f B beyond its value, but Set charges %.0f B: over twice as much", perEntry, charged)
	}
	runtime.KeepAlive(values)
}
