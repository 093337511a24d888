package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// simplejwtClaims are a token's claims as djangorestframework-simplejwt
// mints them: token_type, the user id under user_id (a number), a hex jti,
// iat and exp; no sub.
func simplejwtClaims(tokenType string) claims {
	return claims{
		"token_type": tokenType,
		"exp":        t0.Add(time.Hour).Unix(),
		"iat":        t0.Add(-time.Minute).Unix(),
		"jti":        "9f0c8a1e4b2d4c6f8e1a3b5c7d9e0f12-" + tokenType,
		"user_id":    42,
	}
}

// simplejwtConfig is revokd set up for simplejwt's access tokens.
var simplejwtConfig = pipeline.Config{SubjectClaim: "user_id", RequireClaims: map[string]string{"token_type": "access"}}

// TestRequirements holds the configured requirements and a call's expect
// to their answers, on the first (verified) and the second (cached) look
// at each token, and across callers that expect different things of one
// cached token.
func TestRequirements(t *testing.T) {
	access := hs256(t, simplejwtClaims("access"))
	refresh := hs256(t, simplejwtClaims("refresh"))
	untyped := hs256(t, with(simplejwtClaims("access"), claims{"token_type": nil}))
	numeric := hs256(t, with(simplejwtClaims("access"), claims{"token_type": num("7.0")}))
	typedTwice := rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"token_type":"access","token_type":"refresh"`))
	objectType := hs256(t, with(simplejwtClaims("access"), claims{"token_type": map[string]any{"x": "access"}}))
	boolean := hs256(t, with(simplejwtClaims("access"), claims{"admin": true}))

	refreshOnly := map[string]string{"token_type": "refresh"}
	tests := []struct {
		name   string
		cfg    pipeline.Config
		token  string
		expect map[string]string // nil: the configured requirements
		want   string
	}{
		{"access token, configured", simplejwtConfig, access, nil, ""},
		{"refresh token, configured", simplejwtConfig, refresh, nil, apitype.ReasonBadClaim},
		{"refresh token, expect refresh", simplejwtConfig, refresh, refreshOnly, ""},
		{"access token, expect refresh", simplejwtConfig, access, refreshOnly, apitype.ReasonBadClaim},
		{"refresh token, empty expect requires nothing", simplejwtConfig, refresh, map[string]string{}, ""},
		{"no token_type", simplejwtConfig, untyped, nil, apitype.ReasonBadClaim},
		{"no token_type, expect refresh", simplejwtConfig, untyped, refreshOnly, apitype.ReasonBadClaim},
		{"no requirements", pipeline.Config{SubjectClaim: "user_id"}, refresh, nil, ""},
		{"numbers compare by their decimal text", pipeline.Config{SubjectClaim: "user_id"}, numeric,
			map[string]string{"token_type": "7", "user_id": "42"}, ""},
		{"a number is not its float spelling", pipeline.Config{SubjectClaim: "user_id"}, numeric,
			map[string]string{"token_type": "7.0"}, apitype.ReasonBadClaim},
		{"a required claim given twice", pipeline.Config{RequireClaims: map[string]string{"token_type": "access"}},
			typedTwice, nil, apitype.ReasonBadClaim},
		{"an object never matches", simplejwtConfig, objectType, nil, apitype.ReasonBadClaim},
		{"true as written", pipeline.Config{SubjectClaim: "user_id"}, boolean, map[string]string{"admin": "true"}, ""},
		{"several claims, one differs", simplejwtConfig, access,
			map[string]string{"token_type": "access", "user_id": "43"}, apitype.ReasonBadClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			for _, pass := range []string{"verified", "cached"} {
				var r pipeline.Result
				if tc.expect == nil {
					r = f.p.Validate(tc.token)
				} else {
					r = f.p.ValidateExpect(tc.token, pipeline.NewRequirements(tc.expect))
				}
				if r.Reason != tc.want {
					t.Fatalf("%s: reason = %q, want %q", pass, r.Reason, tc.want)
				}
				if r.Token == nil {
					t.Fatalf("%s: no token on a verified signature", pass)
				}
				f.p.WaitCache()
			}
		})
	}
}

// TestRequirementsShareTheCache: one cached token answers each caller by
// its own requirements, whichever came first, and every answer after the
// first is a cache hit.
func TestRequirementsShareTheCache(t *testing.T) {
	f := newFixture(t, simplejwtConfig)
	access := hs256(t, simplejwtClaims("access"))
	refresh := hs256(t, simplejwtClaims("refresh"))
	expectRefresh := pipeline.NewRequirements(map[string]string{"token_type": "refresh"})
	// The refresh token is first seen by a configured call, the access
	// token by an expecting one: each is cached whatever its first answer.
	steps := []struct {
		token  string
		expect *pipeline.Requirements
		want   string
	}{
		{refresh, nil, apitype.ReasonBadClaim},
		{access, expectRefresh, apitype.ReasonBadClaim},
		{refresh, expectRefresh, ""},
		{access, nil, ""},
		{refresh, nil, apitype.ReasonBadClaim},
		{access, expectRefresh, apitype.ReasonBadClaim},
	}
	for i, s := range steps {
		hits := f.p.CacheHits()
		if r := f.p.ValidateExpect(s.token, s.expect); r.Reason != s.want {
			t.Fatalf("step %d: reason = %q, want %q", i, r.Reason, s.want)
		}
		if i >= 2 && f.p.CacheHits() != hits+1 {
			t.Errorf("step %d: not a cache hit", i)
		}
		f.p.WaitCache()
	}
}

// TestRevocableIgnoresRequirements: a logout must end the refresh token
// that --require-claim refuses as an access token.
func TestRevocableIgnoresRequirements(t *testing.T) {
	f := newFixture(t, simplejwtConfig)
	refresh := hs256(t, simplejwtClaims("refresh"))
	if r := f.p.Revocable(refresh); !r.Active() {
		t.Fatalf("Revocable(refresh) = %q, want active", r.Reason)
	}
	f.deny(simplejwtClaims("refresh")["jti"].(string))
	if r := f.p.Revocable(refresh); r.Reason != apitype.ReasonRevoked {
		t.Fatalf("after its denial, Revocable(refresh) = %q, want revoked", r.Reason)
	}
}

// TestRequireClaimsConfig refuses an empty claim name.
func TestRequireClaimsConfig(t *testing.T) {
	cfg := allKeysConfig(t)
	cfg.Replica = newFixture(t, pipeline.Config{}).replica
	cfg.RequireClaims = map[string]string{"": "x"}
	if p, err := pipeline.New(cfg); err == nil {
		p.Close()
		t.Fatal("New accepted an empty required claim name")
	}
}

// TestIntrospection checks the RFC 7662 answer member by member: each
// standard member the token holds, as the token holds it, and nothing else.
func TestIntrospection(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	payload := `{"sub":"alice","exp":` + jsonInt(t0.Add(time.Hour).Unix()) + `,"iat":1799999940.25,"nbf":1799999900,` +
		`"iss":"https://issuer.example","aud":["a","b"],"jti":"j-1","scope":"read write","client_id":"app",` +
		`"username":"ali","token_type":"access","sid":"s-1","roles":["x"]}`
	r := f.p.Validate(rawHS256(`{"alg":"HS256"}`, payload))
	if !r.Active() {
		t.Fatalf("token: %q, want active", r.Reason)
	}
	got, err := json.Marshal(r.Introspection())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"active":true,"sub":"alice","exp":` + jsonInt(t0.Add(time.Hour).Unix()) + `,"iat":1799999940.25,"nbf":1799999900,` +
		`"iss":"https://issuer.example","aud":["a","b"],"jti":"j-1","scope":"read write","client_id":"app",` +
		`"username":"ali","token_type":"access"}`
	if string(got) != want {
		t.Errorf("introspection:\n got %s\nwant %s", got, want)
	}

	// simplejwt's: no sub, so the subject claim stands in; aud a string.
	f = newFixture(t, pipeline.Config{SubjectClaim: "user_id"})
	r = f.p.Validate(hs256(t, with(simplejwtClaims("access"), claims{"aud": "api"})))
	got, _ = json.Marshal(r.Introspection())
	want = `{"active":true,"sub":"42","exp":` + jsonInt(t0.Add(time.Hour).Unix()) + `,"iat":` + jsonInt(t0.Add(-time.Minute).Unix()) +
		`,"aud":"api","jti":"9f0c8a1e4b2d4c6f8e1a3b5c7d9e0f12-access","token_type":"access"}`
	if string(got) != want {
		t.Errorf("simplejwt introspection:\n got %s\nwant %s", got, want)
	}

	for _, inactive := range []pipeline.Result{
		{Reason: apitype.ReasonMalformed},
		{Reason: apitype.ReasonRevoked, Token: r.Token},
		{Reason: apitype.ReasonSubjectRevoked, Until: t0.Add(time.Hour), Token: r.Token},
	} {
		if got, _ := json.Marshal(inactive.Introspection()); string(got) != `{"active":false}` {
			t.Errorf("%s: got %s, want {\"active\":false}", inactive.Reason, got)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
