package daemon

import (
	"bytes"
	"encoding/binary"
)

// scanTokenObject recognises the hot request shapes, {"token":"…"} and
// {"op":"validate","token":"…"} (members in any order, JSON whitespace
// allowed), without encoding/json: on a verified-cache hit, reflection-based
// decoding would cost more than the validation itself.
//
// It accepts only what it can judge exactly: keys "op" and "token", each at
// most once, and string values of printable ASCII without escapes. Anything
// else returns ok=false and the caller falls back to encoding/json, which
// stays the authority on what a request means. op is nil when absent.
func scanTokenObject(b []byte) (op, token []byte, ok bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, nil, false
	}
	i++
	var haveOp, haveToken bool
	for n := 0; ; n++ {
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, nil, false
		}
		if b[i] == '}' && n > 0 {
			i++
			break
		}
		if n > 0 {
			if b[i] != ',' {
				return nil, nil, false
			}
			i = skipSpace(b, i+1)
		}
		key, j, ok := plainString(b, i)
		if !ok {
			return nil, nil, false
		}
		i = skipSpace(b, j)
		if i == len(b) || b[i] != ':' {
			return nil, nil, false
		}
		val, j, ok := plainString(b, skipSpace(b, i+1))
		if !ok {
			return nil, nil, false
		}
		i = j
		switch string(key) {
		case "op":
			if haveOp {
				return nil, nil, false
			}
			op, haveOp = val, true
		case "token":
			if haveToken {
				return nil, nil, false
			}
			token, haveToken = val, true
		default:
			return nil, nil, false
		}
	}
	if skipSpace(b, i) != len(b) {
		return nil, nil, false
	}
	return op, token, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] made only of printable ASCII
// without backslashes, and returns its contents and the index after it.
// Without backslashes the first quote ends the string.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	n := bytes.IndexByte(b[i+1:], '"')
	if n < 0 {
		return nil, 0, false
	}
	s := b[i+1 : i+1+n]
	if !printableASCII(s) {
		return nil, 0, false
	}
	return s, i + 2 + n, true
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// printableASCII reports whether every byte of s is in 0x20–0x7e and none
// is a backslash. It tests eight bytes at a time: a token is hundreds of
// bytes, and a byte at a time cost more than the validation it feeds.
func printableASCII(s []byte) bool {
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(s)
		// A byte >= 0x80 sets its high bit in w; a byte < 0x20 (and no
		// byte >= 0x80) sets it in w-0x20… by borrowing.
		if (w|(w-0x20*lowBits))&highBits != 0 || hasZeroByte(w^0x7f*lowBits) || hasZeroByte(w^'\\'*lowBits) {
			return false
		}
		s = s[8:]
	}
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// hasZeroByte reports whether any byte of w is zero (exact, with no false
// positives, though it cannot say which byte).
func hasZeroByte(w uint64) bool { return (w-lowBits)&^w&highBits != 0 }
