package pipeline

import (
	"slices"
	"strings"
)

// Requirements are claim values a token must carry to be active
// (--require-claim, or a validate request's "expect"); a token whose claim
// differs or is absent is bad_claim. They exist because some issuers sign
// tokens of different kinds with one key: djangorestframework-simplejwt
// tells a refresh token from an access token only by its token_type claim.
//
// A nil *Requirements in the pipeline's calls means the configured ones,
// whose verdict each Verified holds from when it was built: the no-expect
// hot path pays one comparison for them. Other requirements are judged on
// the cached claims at every answer, so one cached token serves callers
// that expect different things.
type Requirements struct {
	claims []requirement // sorted by name
}

type requirement struct{ name, value string }

// NewRequirements makes Requirements from claim → value. An empty or nil
// map requires nothing.
func NewRequirements(m map[string]string) *Requirements {
	r := &Requirements{claims: make([]requirement, 0, len(m))}
	for name, value := range m {
		r.claims = append(r.claims, requirement{name, value})
	}
	slices.SortFunc(r.claims, func(a, b requirement) int { return strings.Compare(a.name, b.name) })
	return r
}

// noRequirements is what a revocation holds a token to: any token the
// issuer signed may be ended, whatever its kind (a logout revokes the
// refresh token too).
var noRequirements = NewRequirements(nil)

// met reports whether the payload meets r. A required claim given twice
// fails: readers disagree on which of two values counts, and the app behind
// revokd could read the other one.
func (r *Requirements) met(c *payload) bool {
	for _, req := range r.claims {
		var n int
		var v []byte
		for _, f := range c.fields {
			if string(f.name) == req.name {
				n, v = n+1, f.value
			}
		}
		if n != 1 {
			return false
		}
		s, ok := claimText(v)
		if !ok || s != req.value {
			return false
		}
	}
	return true
}

// claimText is a claim's value as a requirement compares it: a string as
// is, a number by its canonical decimal text (as the subject is read), true
// and false as written. Objects, arrays and null never match.
func claimText(v []byte) (string, bool) {
	switch {
	case len(v) == 0:
		return "", false
	case v[0] == '"':
		s, err := unquote(v)
		return s, err == nil
	case v[0] == '-' || ('0' <= v[0] && v[0] <= '9'):
		s, err := canonicalNumber(v)
		return s, err == nil
	case string(v) == "true", string(v) == "false":
		return string(v), true
	}
	return "", false
}

// metBy reports whether the verified token v meets r.
func (r *Requirements) metBy(v *Verified) bool {
	if len(r.claims) == 0 {
		return true
	}
	// The claims split when the token was verified: an error cannot
	// happen, and would fail closed.
	fields, err := splitObject(v.Claims)
	return err == nil && r.met(&payload{raw: v.Claims, fields: fields})
}
