package pipeline

import "testing"

func TestHeapBytes(t *testing.T) {
	tests := []struct {
		n    int
		want int64
	}{
		{0, 0}, {1, 8}, {8, 8}, {9, 16}, {100, 112}, {257, 288}, {4097, 4864},
		{32768, 32768}, {32769, 40960},
	}
	for _, tc := range tests {
		if got := heapBytes(tc.n); got != tc.want {
			t.Errorf("heapBytes(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestHeapBytesMatchesAllocator checks the table against the allocator
// itself: a fresh byte slice of n bytes must report heapBytes(n) as its
// capacity when grown by append, which rounds up to the size class.
func TestHeapBytesMatchesAllocator(t *testing.T) {
	for n := 1; n <= 40000; n += 37 {
		got := cap(append([]byte(nil), make([]byte, n)...))
		if int64(got) != heapBytes(n) {
			t.Fatalf("append of %d bytes has capacity %d, heapBytes says %d", n, got, heapBytes(n))
		}
	}
}
