package pipeline_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// rawHS256 signs header and payload JSON exactly as written, for shapes
// golang-jwt would not mint.
func rawHS256(header, payload string) string {
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	mac := hmac.New(sha256.New, keys().hmac)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

// tamperSig changes one character in the middle of a token's signature.
func tamperSig(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// TestReasons has a case for every reason a token can be rejected with,
// and for the ways a token must still pass.
func TestReasons(t *testing.T) {
	k := keys()
	rsaJWKS := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":%q,"e":"AQAB"}]}`,
		base64.RawURLEncoding.EncodeToString(k.rsa.N.Bytes()))
	valid := baseClaims()
	rsaPEM := pemOf(t, k.rsa.Public())

	tests := []struct {
		name   string
		cfg    pipeline.Config
		token  func(t *testing.T) string
		setup  func(f *fixture, token string)
		reason string // "" means active
	}{
		{name: "active", token: func(t *testing.T) string { return hs256(t, valid) }},
		// malformed
		{name: "too large", cfg: pipeline.Config{MaxTokenBytes: 100},
			token: func(t *testing.T) string {
				return hs256(t, with(valid, claims{"pad": strings.Repeat("x", 100)}))
			}, reason: apitype.ReasonMalformed},
		{name: "two parts", token: func(t *testing.T) string {
			tok := hs256(t, valid)
			return tok[:strings.LastIndexByte(tok, '.')]
		}, reason: apitype.ReasonMalformed},
		{name: "four parts", token: func(t *testing.T) string { return hs256(t, valid) + ".x" }, reason: apitype.ReasonMalformed},
		{name: "empty", token: func(*testing.T) string { return "" }, reason: apitype.ReasonMalformed},
		{name: "not base64url", token: func(t *testing.T) string {
			parts := strings.Split(hs256(t, valid), ".")
			return parts[0] + ".%%%%." + parts[2]
		}, reason: apitype.ReasonMalformed},
		{name: "padded base64", token: func(t *testing.T) string {
			parts := strings.Split(hs256(t, valid), ".")
			return parts[0] + "=." + parts[1] + "." + parts[2]
		}, reason: apitype.ReasonMalformed},
		// A token nothing could revoke is not accepted.
		{name: "jti longer than any store keeps", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"jti": strings.Repeat("j", 513)}))
		}, reason: apitype.ReasonMalformed},
		{name: "subject with a NUL", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"sub": "a\x00b"}))
		}, reason: apitype.ReasonMalformed},
		{name: "sid longer than any store keeps", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"sid": strings.Repeat("s", 513)}))
		}, reason: apitype.ReasonMalformed},
		{name: "jti at the limit is fine", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"jti": strings.Repeat("j", 512)}))
		}},
		{name: "header not JSON", token: func(*testing.T) string { return rawHS256(`{"alg":"HS256"`, `{}`) }, reason: apitype.ReasonMalformed},
		{name: "header without alg", token: func(*testing.T) string { return rawHS256(`{"typ":"JWT"}`, `{}`) }, reason: apitype.ReasonMalformed},
		{name: "payload not an object", token: func(*testing.T) string { return rawHS256(`{"alg":"HS256"}`, `[1,2]`) }, reason: apitype.ReasonMalformed},
		{name: "crit names an extension", token: func(t *testing.T) string {
			return mint(t, jwt.SigningMethodHS256, k.hmac, valid, map[string]any{"crit": []string{"b64"}, "b64": false})
		}, reason: apitype.ReasonMalformed},
		{name: "crit empty", token: func(t *testing.T) string {
			return mint(t, jwt.SigningMethodHS256, k.hmac, valid, map[string]any{"crit": []string{}})
		}, reason: apitype.ReasonMalformed},
		{name: "exp not a number", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"exp": "tomorrow"})) }, reason: apitype.ReasonMalformed},
		{name: "subject an object", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"sub": claims{"id": 1}})) }, reason: apitype.ReasonMalformed},
		{name: "session start a string", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"orig_iat": "yesterday"})) }, reason: apitype.ReasonMalformed},
		// The payload is read as encoding/json reads it: nothing after the
		// object, and no second value for a claim revokd reads.
		{name: "second object after the payload", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, validPayload+`{"sub":"bob"}`)
		}, reason: apitype.ReasonMalformed},
		{name: "garbage after the payload", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, validPayload+`xyz`)
		}, reason: apitype.ReasonMalformed},
		{name: "whitespace after the payload is fine", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, validPayload+" \n")
		}},
		{name: "sub twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"sub":"bob"`))
		}, reason: apitype.ReasonMalformed},
		{name: "sub twice, once escaped", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"s\u0075b":"bob"`))
		}, reason: apitype.ReasonMalformed},
		{name: "exp twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, fmt.Sprintf(`"exp":%d`, t0.Add(2*time.Hour).Unix())))
		}, reason: apitype.ReasonMalformed},
		{name: "jti twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"jti":"jti-2"`))
		}, reason: apitype.ReasonMalformed},
		{name: "sid twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"sid":"sess-2"`))
		}, reason: apitype.ReasonMalformed},
		{name: "iat twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, fmt.Sprintf(`"iat":%d`, t0.Unix())))
		}, reason: apitype.ReasonMalformed},
		{name: "nbf twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"nbf":1`), `"nbf":2`))
		}, reason: apitype.ReasonMalformed},
		{name: "iss twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"iss":"a"`), `"iss":"b"`))
		}, reason: apitype.ReasonMalformed},
		{name: "aud twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"aud":"a"`), `"aud":"b"`))
		}, reason: apitype.ReasonMalformed},
		{name: "orig_iat twice", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"orig_iat":1799999000`), `"orig_iat":1799999001`))
		}, reason: apitype.ReasonMalformed},
		{name: "configured subject claim twice", cfg: pipeline.Config{SubjectClaim: "uid"},
			token: func(*testing.T) string {
				return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"uid":"alice"`), `"uid":"bob"`))
			}, reason: apitype.ReasonMalformed},
		{name: "configured subject claim once", cfg: pipeline.Config{SubjectClaim: "uid"},
			token: func(*testing.T) string {
				return rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"uid":"alice"`))
			}},
		{name: "configured session-start claim twice", cfg: pipeline.Config{SessionStartClaim: "auth_time"},
			token: func(*testing.T) string {
				return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"auth_time":1799999000`), `"auth_time":1799999001`))
			}, reason: apitype.ReasonMalformed},
		{name: "configured cutoff claim twice", cfg: pipeline.Config{CutoffClaims: []string{"sub", "tenant"}},
			token: func(*testing.T) string {
				return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"tenant":"a"`), `"tenant":"b"`))
			}, reason: apitype.ReasonMalformed},
		{name: "unconfigured claim twice is fine", token: func(*testing.T) string {
			return rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"tenant":"a"`), `"tenant":"b"`))
		}},
		// A session cannot start after the token carrying it was issued.
		{name: "session start more than a second after iat", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"iat": t0.Unix() - 60, "orig_iat": num("1799999941.000001")}))
		}, reason: apitype.ReasonMalformed},
		{name: "session start a second after iat is fine", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"iat": t0.Unix() - 60, "orig_iat": t0.Unix() - 59}))
		}},
		{name: "session start ten years after iat", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"orig_iat": t0.AddDate(10, 0, 0).Unix()}))
		}, reason: apitype.ReasonMalformed},
		// unsupported_alg
		{name: "alg none", token: func(t *testing.T) string {
			return mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid, nil)
		}, reason: apitype.ReasonUnsupportedAlg},
		{name: "alg not allowed", cfg: pipeline.Config{HMACSecret: k.hmac, Algorithms: []string{"HS256"}},
			token:  func(t *testing.T) string { return mint(t, jwt.SigningMethodHS512, k.hmac, valid, nil) },
			reason: apitype.ReasonUnsupportedAlg},
		{name: "alg unknown", token: func(*testing.T) string { return rawHS256(`{"alg":"HS1024"}`, `{}`) }, reason: apitype.ReasonUnsupportedAlg},
		{name: "HS256 signed with the RSA PEM, PEM configured", cfg: pipeline.Config{PublicKeyPEMs: [][]byte{rsaPEM}},
			token:  func(t *testing.T) string { return mint(t, jwt.SigningMethodHS256, rsaPEM, valid, nil) },
			reason: apitype.ReasonUnsupportedAlg},
		{name: "HS256 naming an RSA kid", cfg: pipeline.Config{JWKS: []byte(rsaJWKS), HMACSecret: k.hmac},
			token: func(t *testing.T) string {
				return mint(t, jwt.SigningMethodHS256, k.hmac, valid, map[string]any{"kid": "rsa-1"})
			}, reason: apitype.ReasonUnsupportedAlg},
		// unknown_key
		{name: "unknown kid", cfg: pipeline.Config{JWKS: []byte(rsaJWKS)},
			token: func(t *testing.T) string {
				return mint(t, jwt.SigningMethodRS256, k.rsa, valid, map[string]any{"kid": "rsa-2"})
			}, reason: apitype.ReasonUnknownKey},
		// bad_signature
		{name: "tampered payload", token: func(t *testing.T) string {
			parts := strings.Split(hs256(t, valid), ".")
			other := strings.Split(hs256(t, with(valid, claims{"sub": "mallory"})), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}, reason: apitype.ReasonBadSignature},
		{name: "wrong secret", token: func(t *testing.T) string {
			return mint(t, jwt.SigningMethodHS256, []byte("not the secret at all, not at all"), valid, nil)
		}, reason: apitype.ReasonBadSignature},
		{name: "empty signature", token: func(t *testing.T) string {
			tok := hs256(t, valid)
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}, reason: apitype.ReasonBadSignature},
		{name: "ES256 signed by another key", token: func(t *testing.T) string {
			other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return mint(t, jwt.SigningMethodES256, other, valid, nil)
		}, reason: apitype.ReasonBadSignature},
		{name: "tampered signature", token: func(t *testing.T) string { return tamperSig(hs256(t, valid)) }, reason: apitype.ReasonBadSignature},
		// time
		{name: "expired", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"exp": t0.Unix()})) }, reason: apitype.ReasonExpired},
		{name: "expired within leeway", cfg: pipeline.Config{Leeway: 30 * time.Second},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"exp": t0.Unix() - 29})) }},
		{name: "expired past leeway", cfg: pipeline.Config{Leeway: 30 * time.Second},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"exp": t0.Unix() - 30})) }, reason: apitype.ReasonExpired},
		{name: "not yet valid", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"nbf": t0.Unix() + 1})) }, reason: apitype.ReasonNotYetValid},
		{name: "nbf now", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"nbf": t0.Unix()})) }},
		// A token issued, or a session started, in the future.
		{name: "iat ahead", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iat": t0.Unix() + 1})) }, reason: apitype.ReasonNotYetValid},
		{name: "iat ahead within leeway", cfg: pipeline.Config{Leeway: 30 * time.Second},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iat": t0.Unix() + 30})) }},
		{name: "iat ahead past leeway", cfg: pipeline.Config{Leeway: 30 * time.Second},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iat": num("1800000030.000001")})) }, reason: apitype.ReasonNotYetValid},
		{name: "session start ahead without iat", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"iat": nil, "orig_iat": t0.Unix() + 120}))
		}, reason: apitype.ReasonNotYetValid},
		{name: "session start past 9999 without iat", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"iat": nil, "orig_iat": num("253402300800")}))
		}, reason: apitype.ReasonNotYetValid},
		{name: "expired beats iat ahead", token: func(t *testing.T) string {
			return hs256(t, with(valid, claims{"iat": t0.Unix() + 60, "exp": t0.Unix()}))
		}, reason: apitype.ReasonExpired},
		// iss and aud
		{name: "bad issuer", cfg: pipeline.Config{Issuer: "https://issuer.example"},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iss": "https://evil.example"})) }, reason: apitype.ReasonBadIssuer},
		{name: "good issuer", cfg: pipeline.Config{Issuer: "https://issuer.example"},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iss": "https://issuer.example"})) }},
		{name: "bad audience", cfg: pipeline.Config{Audience: "revokd"},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"aud": "other"})) }, reason: apitype.ReasonBadAudience},
		{name: "bad audience list", cfg: pipeline.Config{Audience: "revokd"},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"aud": []string{"a", "b"}})) }, reason: apitype.ReasonBadAudience},
		{name: "audience in list", cfg: pipeline.Config{Audience: "revokd"},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"aud": []string{"a", "revokd"}})) }},
		// missing_claim
		{name: "no exp", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"exp": nil})) }, reason: apitype.ReasonMissingClaim},
		{name: "no subject", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"sub": nil})) }, reason: apitype.ReasonMissingClaim},
		{name: "empty subject", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"sub": ""})) }, reason: apitype.ReasonMissingClaim},
		{name: "subject in sub but configured id", cfg: pipeline.Config{SubjectClaim: "id"},
			token: func(t *testing.T) string { return hs256(t, valid) }, reason: apitype.ReasonMissingClaim},
		{name: "no session start while cutoffs apply", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iat": nil})) }, reason: apitype.ReasonMissingClaim},
		{name: "no session start, no cutoff claim in token", cfg: pipeline.Config{CutoffClaims: []string{"tenant"}},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iat": nil})) }},
		{name: "no session start with max session age", cfg: pipeline.Config{CutoffClaims: []string{"tenant"}, MaxSessionAge: time.Hour},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"iat": nil})) }, reason: apitype.ReasonMissingClaim},
		{name: "no jti when required", cfg: pipeline.Config{RequireJTI: true},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"jti": nil})) }, reason: apitype.ReasonMissingClaim},
		{name: "no jti when not required", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"jti": nil})) }},
		{name: "missing issuer", cfg: pipeline.Config{Issuer: "https://issuer.example"},
			token: func(t *testing.T) string { return hs256(t, valid) }, reason: apitype.ReasonMissingClaim},
		// session_expired
		{name: "session too old", cfg: pipeline.Config{MaxSessionAge: time.Hour},
			token: func(t *testing.T) string {
				return hs256(t, with(valid, claims{"orig_iat": t0.Add(-time.Hour - time.Second).Unix()}))
			}, reason: apitype.ReasonSessionExpired},
		{name: "session exactly max age", cfg: pipeline.Config{MaxSessionAge: time.Hour},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"orig_iat": t0.Add(-time.Hour).Unix()})) }},
		// revocation
		{name: "revoked by jti", token: func(t *testing.T) string { return hs256(t, valid) },
			setup: func(f *fixture, _ string) { f.deny("jti-1") }, reason: apitype.ReasonRevoked},
		{name: "revoked by sha256 id", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"jti": nil})) },
			setup: func(f *fixture, tok string) { f.deny(pipeline.TokenID(tok)) }, reason: apitype.ReasonRevoked},
		{name: "subject revoked", token: func(t *testing.T) string { return hs256(t, valid) },
			setup: func(f *fixture, _ string) { f.cutoff("sub", "alice", t0) }, reason: apitype.ReasonSubjectRevoked},
		{name: "session revoked", token: func(t *testing.T) string { return hs256(t, valid) },
			setup: func(f *fixture, _ string) { f.cutoff("sid", "sess-1", t0) }, reason: apitype.ReasonSessionRevoked},
		{name: "claim revoked", cfg: pipeline.Config{CutoffClaims: []string{"sub", "sid", "tenant"}},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"tenant": "acme"})) },
			setup: func(f *fixture, _ string) { f.cutoff("tenant", "acme", t0) }, reason: apitype.ReasonClaimRevoked},
		{name: "cutoff on a claim not configured", token: func(t *testing.T) string { return hs256(t, with(valid, claims{"tenant": "acme"})) },
			setup: func(f *fixture, _ string) { f.cutoff("tenant", "acme", t0) }},
		{name: "unavailable", cfg: pipeline.Config{StaleAfter: time.Second},
			token: func(t *testing.T) string { return hs256(t, valid) },
			setup: func(f *fixture, _ string) { f.loseContact() }, reason: apitype.ReasonUnavailable},
		{name: "expired beats unavailable", cfg: pipeline.Config{StaleAfter: time.Second},
			token: func(t *testing.T) string { return hs256(t, with(valid, claims{"exp": t0.Unix() - 1})) },
			setup: func(f *fixture, _ string) { f.loseContact() }, reason: apitype.ReasonExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			tok := tc.token(t)
			if tc.setup != nil {
				tc.setup(f, tok)
			}
			// Twice: the second answer may come from the cache and must agree.
			for _, pass := range []string{"first", "again"} {
				r := f.p.Validate(tok)
				if r.Reason != tc.reason {
					t.Fatalf("%s pass: reason = %q, want %q", pass, r.Reason, tc.reason)
				}
				if tc.reason == "" && (r.Token == nil || r.Token.Subject != "alice") {
					t.Fatalf("%s pass: active token's subject = %q, want alice", pass, subjectOf(r))
				}
				f.p.WaitCache()
			}
		})
	}
}

// validPayload is baseClaims as JSON, for tokens signed as written.
var validPayload = fmt.Sprintf(`{"sub":"alice","jti":"jti-1","sid":"sess-1","iat":%d,"exp":%d}`,
	t0.Add(-time.Minute).Unix(), t0.Add(time.Hour).Unix())

// withMember adds a member at the end of a JSON object.
func withMember(object, member string) string {
	return strings.TrimSuffix(object, "}") + "," + member + "}"
}

// TestTokenOnVerifiedSignature checks that an inactive answer still carries
// the token whenever its signature verified, and never otherwise.
func TestTokenOnVerifiedSignature(t *testing.T) {
	f := newFixture(t, pipeline.Config{Issuer: "https://issuer.example"})
	good := hs256(t, with(baseClaims(), claims{"iss": "https://issuer.example"}))
	tests := []struct {
		name      string
		token     string
		setup     func()
		reason    string
		wantToken bool
	}{
		{"bad issuer", hs256(t, with(baseClaims(), claims{"iss": "x"})), nil, apitype.ReasonBadIssuer, true},
		{"expired", hs256(t, with(baseClaims(), claims{"iss": "https://issuer.example", "exp": t0.Unix() - 1})), nil, apitype.ReasonExpired, true},
		{"revoked", good, func() { f.deny("jti-1") }, apitype.ReasonRevoked, true},
		{"bad signature", tamperSig(good), nil, apitype.ReasonBadSignature, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			r := f.p.Validate(tc.token)
			if r.Reason != tc.reason || (r.Token != nil) != tc.wantToken {
				t.Fatalf("got reason %q with token %v, want %q with token %v", r.Reason, r.Token != nil, tc.reason, tc.wantToken)
			}
			if tc.wantToken && r.Token.ID != "jti-1" {
				t.Errorf("token id = %q, want jti-1", r.Token.ID)
			}
		})
	}
}
