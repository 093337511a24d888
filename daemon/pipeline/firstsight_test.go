package pipeline_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestCachedOnFirstSight checks that the first validation of an active
// token fills the verified cache, so the second skips the signature work
// that costs tens of microseconds for the asymmetric algorithms. Both the
// string and the byte-slice lookups must hit.
func TestCachedOnFirstSight(t *testing.T) {
	k := keys()
	tests := []struct {
		name   string
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, k.hmac},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"ES256", jwt.SigningMethodES256, k.ec256},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, allKeysConfig(t))
			tok := mint(t, tc.method, tc.key, baseClaims(), nil)
			if r := f.p.Validate(tok); !r.Active() {
				t.Fatalf("first sight: reason = %q, want active", r.Reason)
			}
			if got := f.p.CacheHits(); got != 0 {
				t.Fatalf("first sight: hits = %d, want 0", got)
			}
			// ristretto applies a Set asynchronously; WaitCache makes it
			// visible, as a moment between two requests would.
			f.p.WaitCache()
			if r := f.p.Validate(tok); !r.Active() {
				t.Fatalf("second sight: reason = %q, want active", r.Reason)
			}
			if r := f.p.ValidateBytes([]byte(tok)); !r.Active() {
				t.Fatalf("second sight as bytes: reason = %q, want active", r.Reason)
			}
			if got := f.p.CacheHits(); got != 2 {
				t.Errorf("after two more validations: hits = %d, want 2", got)
			}
		})
	}
}
