package daemon

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
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}
