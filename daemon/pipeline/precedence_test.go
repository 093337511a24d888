package pipeline_test

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

func TestWinner(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"none loses to a reason", "", apitype.ReasonRevoked, apitype.ReasonRevoked},
		{"none against none", "", "", ""},
		{"same reason", apitype.ReasonExpired, apitype.ReasonExpired, apitype.ReasonExpired},
		{"malformed beats bad signature", apitype.ReasonBadSignature, apitype.ReasonMalformed, apitype.ReasonMalformed},
		{"unsupported alg beats unknown key", apitype.ReasonUnknownKey, apitype.ReasonUnsupportedAlg, apitype.ReasonUnsupportedAlg},
		{"bad signature beats missing claim", apitype.ReasonMissingClaim, apitype.ReasonBadSignature, apitype.ReasonBadSignature},
		{"missing claim beats bad issuer", apitype.ReasonBadIssuer, apitype.ReasonMissingClaim, apitype.ReasonMissingClaim},
		{"bad issuer beats bad audience", apitype.ReasonBadAudience, apitype.ReasonBadIssuer, apitype.ReasonBadIssuer},
		{"bad audience beats bad claim", apitype.ReasonBadClaim, apitype.ReasonBadAudience, apitype.ReasonBadAudience},
		{"bad claim beats expired", apitype.ReasonExpired, apitype.ReasonBadClaim, apitype.ReasonBadClaim},
		{"expired beats not yet valid", apitype.ReasonNotYetValid, apitype.ReasonExpired, apitype.ReasonExpired},
		{"not yet valid beats session expired", apitype.ReasonSessionExpired, apitype.ReasonNotYetValid, apitype.ReasonNotYetValid},
		{"session expired beats unavailable", apitype.ReasonUnavailable, apitype.ReasonSessionExpired, apitype.ReasonSessionExpired},
		{"unavailable beats a cutoff", apitype.ReasonSubjectRevoked, apitype.ReasonUnavailable, apitype.ReasonUnavailable},
		{"a cutoff beats a denial", apitype.ReasonRevoked, apitype.ReasonClaimRevoked, apitype.ReasonClaimRevoked},
		{"an unknown reason loses to a known one", "brand_new", apitype.ReasonRevoked, apitype.ReasonRevoked},
		{"an unknown reason beats none", "", "brand_new", "brand_new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pipeline.Winner(tc.a, tc.b); got != tc.want {
				t.Errorf("Winner(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
			}
			if got := pipeline.Winner(tc.b, tc.a); got != tc.want {
				t.Errorf("Winner(%q, %q) = %q, want %q", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

// TestPrecedence holds the pipeline to winner: each case is a token to which
// every reason in applies applies, and the answer must be their winner, both
// from the full pipeline and from a cache hit. The cases peel the reasons
// off one at a time, so every step of the order is checked.
func TestPrecedence(t *testing.T) {
	k := keys()
	rsaJWKS := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":%q,"e":"AQAB"}]}`,
		base64.RawURLEncoding.EncodeToString(k.rsa.N.Bytes()))
	old := t0.Add(-2 * time.Hour).Unix() // a session start past the hour allowed below
	revokeAll := func(f *fixture, _ string) {
		f.cutoff("sub", "alice", t0)
		f.deny("jti-1")
	}
	// Stale cases pass --stale-after 1s and hear nothing from the store for
	// a minute; their times stay clear of that minute.
	revokeAllAndLoseContact := func(f *fixture, tok string) {
		revokeAll(f, tok)
		f.loseContact()
	}
	tests := []struct {
		name    string
		cfg     pipeline.Config
		token   func(t *testing.T) string
		setup   func(f *fixture, token string)
		applies []string
	}{
		{name: "unsupported alg and unknown key", cfg: pipeline.Config{JWKS: []byte(rsaJWKS)},
			token: func(t *testing.T) string {
				return mint(t, jwt.SigningMethodHS256, k.hmac, baseClaims(), map[string]any{"kid": "nope"})
			},
			applies: []string{apitype.ReasonUnsupportedAlg, apitype.ReasonUnknownKey, apitype.ReasonBadSignature}},
		// The one rule above the order: an unverified payload is not judged.
		{name: "bad signature over a malformed payload",
			token: func(*testing.T) string {
				return tamperSig(rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"sub":"bob"`)))
			},
			applies: []string{apitype.ReasonBadSignature}},
		{name: "bad signature and expired",
			token: func(t *testing.T) string {
				return tamperSig(hs256(t, with(baseClaims(), claims{"exp": t0.Unix() - 1})))
			},
			applies: []string{apitype.ReasonBadSignature, apitype.ReasonExpired}},
		{name: "malformed and missing claim",
			token:   func(t *testing.T) string { return hs256(t, with(baseClaims(), claims{"sub": nil, "exp": "tomorrow"})) },
			applies: []string{apitype.ReasonMalformed, apitype.ReasonMissingClaim}},
		{name: "missing subject and bad issuer", cfg: pipeline.Config{Issuer: "https://issuer.example"},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"sub": nil, "iss": "https://evil.example"}))
			},
			applies: []string{apitype.ReasonMissingClaim, apitype.ReasonBadIssuer}},
		{name: "missing exp and bad audience", cfg: pipeline.Config{Audience: "revokd"},
			token:   func(t *testing.T) string { return hs256(t, with(baseClaims(), claims{"exp": nil, "aud": "other"})) },
			applies: []string{apitype.ReasonMissingClaim, apitype.ReasonBadAudience}},
		{name: "bad issuer, bad audience, expired", cfg: pipeline.Config{Issuer: "https://issuer.example", Audience: "revokd"},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"iss": "https://evil.example", "aud": "other", "exp": t0.Unix() - 1}))
			},
			applies: []string{apitype.ReasonBadIssuer, apitype.ReasonBadAudience, apitype.ReasonExpired}},
		{name: "bad audience and expired", cfg: pipeline.Config{Audience: "revokd"},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"aud": "other", "exp": t0.Unix() - 1}))
			},
			applies: []string{apitype.ReasonBadAudience, apitype.ReasonExpired}},
		{name: "bad audience and bad claim", cfg: pipeline.Config{Audience: "revokd", RequireClaims: map[string]string{"token_type": "access"}},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"aud": "other", "token_type": "refresh"}))
			},
			applies: []string{apitype.ReasonBadAudience, apitype.ReasonBadClaim}},
		{name: "bad claim and everything after", cfg: pipeline.Config{MaxSessionAge: time.Hour, StaleAfter: time.Second,
			RequireClaims: map[string]string{"token_type": "access"}},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"token_type": "refresh", "exp": t0.Unix() - 1, "nbf": t0.Unix() + 600, "orig_iat": old}))
			},
			setup: revokeAllAndLoseContact,
			applies: []string{apitype.ReasonBadClaim, apitype.ReasonExpired, apitype.ReasonNotYetValid, apitype.ReasonSessionExpired,
				apitype.ReasonUnavailable, apitype.ReasonSubjectRevoked, apitype.ReasonRevoked}},
		{name: "expired and everything after", cfg: pipeline.Config{MaxSessionAge: time.Hour, StaleAfter: time.Second},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"exp": t0.Unix() - 1, "nbf": t0.Unix() + 600, "orig_iat": old}))
			},
			setup: revokeAllAndLoseContact,
			applies: []string{apitype.ReasonExpired, apitype.ReasonNotYetValid, apitype.ReasonSessionExpired,
				apitype.ReasonUnavailable, apitype.ReasonSubjectRevoked, apitype.ReasonRevoked}},
		{name: "not yet valid and everything after", cfg: pipeline.Config{MaxSessionAge: time.Hour, StaleAfter: time.Second},
			token: func(t *testing.T) string {
				return hs256(t, with(baseClaims(), claims{"nbf": t0.Unix() + 600, "orig_iat": old}))
			},
			setup: revokeAllAndLoseContact,
			applies: []string{apitype.ReasonNotYetValid, apitype.ReasonSessionExpired,
				apitype.ReasonUnavailable, apitype.ReasonSubjectRevoked, apitype.ReasonRevoked}},
		{name: "session expired and everything after", cfg: pipeline.Config{MaxSessionAge: time.Hour, StaleAfter: time.Second},
			token: func(t *testing.T) string { return hs256(t, with(baseClaims(), claims{"orig_iat": old})) },
			setup: revokeAllAndLoseContact,
			applies: []string{apitype.ReasonSessionExpired,
				apitype.ReasonUnavailable, apitype.ReasonSubjectRevoked, apitype.ReasonRevoked}},
		{name: "unavailable and revoked", cfg: pipeline.Config{StaleAfter: time.Second},
			token:   func(t *testing.T) string { return hs256(t, baseClaims()) },
			setup:   revokeAllAndLoseContact,
			applies: []string{apitype.ReasonUnavailable, apitype.ReasonSubjectRevoked, apitype.ReasonRevoked}},
		{name: "cutoff and denial",
			token:   func(t *testing.T) string { return hs256(t, baseClaims()) },
			setup:   revokeAll,
			applies: []string{apitype.ReasonSubjectRevoked, apitype.ReasonRevoked}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want string
			for _, r := range tc.applies {
				want = pipeline.Winner(want, r)
			}
			f := newFixture(t, tc.cfg)
			tok := tc.token(t)
			if tc.setup != nil {
				tc.setup(f, tok)
			}
			for _, pass := range []string{"first", "again"} {
				if got := f.p.Validate(tok).Reason; got != want {
					t.Fatalf("%s pass: reason = %q, want %q, the winner of %v", pass, got, want, tc.applies)
				}
				f.p.WaitCache()
			}
		})
	}
}
