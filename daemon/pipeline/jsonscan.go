package pipeline

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// A token's payload is read once per verification, so it is split by hand
// rather than through encoding/json's map decoding: one pass and one
// allocation instead of one per claim. golang-jwt hands UnmarshalJSON a value
// encoding/json has already validated, so this only has to find boundaries;
// it still checks every bound, and FuzzSplitObject holds it to
// encoding/json's reading.

var errJSON = errors.New("invalid JSON object")

// splitObject splits a JSON object into its members, in order. null is an
// empty object, as encoding/json reads it into a map.
func splitObject(b []byte) ([]field, error) {
	i := skipSpace(b, 0)
	if i+4 <= len(b) && string(b[i:i+4]) == "null" && skipSpace(b, i+4) == len(b) {
		return nil, nil
	}
	if i >= len(b) || b[i] != '{' {
		return nil, errJSON
	}
	fields := make([]field, 0, 12)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return fields, checkEnd(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, errJSON
		}
		end := stringEnd(b, i)
		if end < 0 {
			return nil, errJSON
		}
		name := b[i+1 : end-1]
		if needsUnquote(name) {
			s, err := unquote(b[i:end])
			if err != nil {
				return nil, err
			}
			name = []byte(s)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, errJSON
		}
		i = skipSpace(b, i+1)
		vend := valueEnd(b, i)
		if vend < 0 {
			return nil, errJSON
		}
		fields = append(fields, field{name: name, value: b[i:vend]})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, errJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return fields, checkEnd(b, i+1)
		default:
			return nil, errJSON
		}
	}
}

func checkEnd(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errJSON
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] ('"'),
// or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the value starting at b[i], or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = stringEnd(b, j); j < 0 {
					return -1
				}
				j-- // the loop's j++ steps past the closing quote
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' &&
		b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// needsUnquote reports whether a member name must be decoded to compare
// as encoding/json would: escapes, and bytes that may be invalid UTF-8
// (which encoding/json replaces with U+FFFD).
func needsUnquote(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// unquote reads a JSON string. The common case (no escapes, valid UTF-8,
// no control characters) is a plain copy; anything else goes through
// encoding/json so the result is exactly what it would read.
func unquote(q []byte) (string, error) {
	if len(q) >= 2 && q[0] == '"' && q[len(q)-1] == '"' {
		body := q[1 : len(q)-1]
		plain := true
		for _, c := range body {
			if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
				plain = false
				break
			}
		}
		if plain {
			return string(body), nil
		}
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", err
	}
	return s, nil
}
