package daemon

import (
	"bytes"
	"testing"
)

// TestPrintableASCII checks the eight-bytes-at-a-time test against the
// obvious one: every byte value at every position of strings of every
// length up to three words, amid printable neighbours.
func TestPrintableASCII(t *testing.T) {
	obvious := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c >= 0x7f || c == '\\' {
				return false
			}
		}
		return true
	}
	for n := 1; n <= 24; n++ {
		for pos := range n {
			for c := range 256 {
				s := bytes.Repeat([]byte{'a'}, n)
				s[pos] = byte(c)
				if got, want := printableASCII(s), obvious(s); got != want {
					t.Fatalf("printableASCII(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
	if !printableASCII(nil) {
		t.Error("printableASCII(nil) = false, want true")
	}
}
