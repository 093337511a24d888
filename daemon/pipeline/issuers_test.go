package pipeline_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// The issuers of these tests: A signs with the HMAC secret, B with the RSA
// key, C with an HMAC secret of its own.
const (
	issA = "https://a.example"
	issB = "https://b.example"
	issC = "https://c.example"
)

var secretC = []byte("issuer C's own secret, 32 bytes!")

func issuerA() pipeline.Issuer {
	return pipeline.Issuer{Issuer: issA, Keys: pipeline.KeyMaterial{HMACSecret: keys().hmac}}
}

func issuerB(t testing.TB) pipeline.Issuer {
	return pipeline.Issuer{Issuer: issB, Keys: pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{pemOf(t, keys().rsa.Public())}}}
}

func issuerC() pipeline.Issuer {
	return pipeline.Issuer{Issuer: issC, Keys: pipeline.KeyMaterial{HMACSecret: secretC}}
}

// newIssuersFixture is newFixture for a Config that gives its keys in
// Issuers: newFixture would add the flat keys, which Issuers excludes.
func newIssuersFixture(t testing.TB, cfg pipeline.Config) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: clocktest.New(t0)}
	f.replica = cache.NewReplica(f.clock, cfg.MaxSessionAge, cfg.Leeway)
	f.replica.SetReady()
	f.replica.Touch()
	cfg.Clock, cfg.Replica = f.clock, f.replica
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close)
	f.p = p
	return f
}

// twoIssuers trusts A and B.
func twoIssuers(t testing.TB) *fixture {
	return newIssuersFixture(t, pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), issuerB(t)}})
}

// Tokens of the same subject and session at A and at B.
func tokenA(t testing.TB, changes claims) string {
	return hs256(t, with(with(baseClaims(), claims{"iss": issA, "sub": "42"}), changes))
}

func tokenB(t testing.TB, changes claims) string {
	return mint(t, jwt.SigningMethodRS256, keys().rsa, with(with(baseClaims(), claims{"iss": issB, "sub": "42"}), changes), nil)
}

// reasonOf is a validation's reason, "" for active; the second validation
// may come from the cache and must agree with the first.
func reasonOf(t *testing.T, f *fixture, tok string) string {
	t.Helper()
	first := f.p.Validate(tok)
	f.p.WaitCache()
	again := f.p.Validate(tok)
	if first.Reason != again.Reason {
		t.Fatalf("the same token answered %q, then %q", first.Reason, again.Reason)
	}
	return first.Reason
}

// TestIssuersKeys: with several issuers, a token's iss chooses the keys it
// is verified with before any is tried, so a token naming B verifies with
// B's keys only, whatever key signed it; an iss that names no trusted
// issuer, or none at all, is bad_issuer.
func TestIssuersKeys(t *testing.T) {
	k := keys()
	f := newIssuersFixture(t, pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), issuerB(t), issuerC()}})
	rsaPEM := pemOf(t, k.rsa.Public())
	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"A's token", tokenA(t, nil), ""},
		{"B's token, same sub", tokenB(t, nil), ""},
		{"C's token", mint(t, jwt.SigningMethodHS256, secretC, with(baseClaims(), claims{"iss": issC}), nil), ""},
		{"iss B signed with A's secret", tokenA(t, claims{"iss": issB}), apitype.ReasonUnsupportedAlg},
		{"iss A signed with B's key", tokenB(t, claims{"iss": issA}), apitype.ReasonUnsupportedAlg},
		{"iss C signed with A's secret", tokenA(t, claims{"iss": issC}), apitype.ReasonBadSignature},
		{"iss A signed with C's secret", mint(t, jwt.SigningMethodHS256, secretC, with(baseClaims(), claims{"iss": issA}), nil), apitype.ReasonBadSignature},
		{"iss B, HS256 keyed with B's public key", mint(t, jwt.SigningMethodHS256, rsaPEM, with(baseClaims(), claims{"iss": issB}), nil), apitype.ReasonUnsupportedAlg},
		{"unknown iss", tokenA(t, claims{"iss": "https://evil.example"}), apitype.ReasonBadIssuer},
		{"unknown iss, bad signature", tamperSig(tokenA(t, claims{"iss": "https://evil.example"})), apitype.ReasonBadIssuer},
		{"iss differs in case", tokenA(t, claims{"iss": "https://A.example"}), apitype.ReasonBadIssuer},
		{"iss with a trailing slash", tokenA(t, claims{"iss": issA + "/"}), apitype.ReasonBadIssuer},
		{"no iss", tokenA(t, claims{"iss": nil}), apitype.ReasonBadIssuer},
		{"empty iss", tokenA(t, claims{"iss": ""}), apitype.ReasonBadIssuer},
		{"iss null", rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"iss":null`)), apitype.ReasonBadIssuer},
		{"iss a number", tokenA(t, claims{"iss": 7}), apitype.ReasonBadIssuer},
		{"iss an array naming A", tokenA(t, claims{"iss": []string{issA}}), apitype.ReasonBadIssuer},
		{"iss an object", tokenA(t, claims{"iss": claims{"iss": issA}}), apitype.ReasonBadIssuer},
		// The iss that picks the keys is read as golang-jwt reads it.
		{"iss with escaped slashes", rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"iss":"https:\/\/a.example"`)), ""},
		{"iss under an escaped name", rawHS256(`{"alg":"HS256"}`, withMember(validPayload, `"\u0069ss":"https://a.example"`)), ""},
		{"iss twice, A last", rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"iss":"https://b.example"`), `"iss":"https://a.example"`)), apitype.ReasonMalformed},
		{"iss twice, B last", rawHS256(`{"alg":"HS256"}`, withMember(withMember(validPayload, `"iss":"https://a.example"`), `"iss":"https://b.example"`)), apitype.ReasonUnsupportedAlg},
		{"payload not base64", "eyJhbGciOiJIUzI1NiJ9.%%%%.c2ln", apitype.ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := reasonOf(t, f, tc.token); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
		})
	}
}

// TestIssuersScopedCutoffs: with several issuers a subject or a session is
// one only at its issuer, so a cutoff scoped to A (CutoffValue) reaches A's
// sub 42 and not B's; one made without an issuer reaches both.
func TestIssuersScopedCutoffs(t *testing.T) {
	tests := []struct {
		name         string
		claim, iss   string
		value        string
		wantA, wantB string
	}{
		{"sub at A", "sub", issA, "42", apitype.ReasonSubjectRevoked, ""},
		{"sub at B", "sub", issB, "42", "", apitype.ReasonSubjectRevoked},
		{"sub everywhere", "sub", "", "42", apitype.ReasonSubjectRevoked, apitype.ReasonSubjectRevoked},
		{"other sub at A", "sub", issA, "43", "", ""},
		{"sid at A", "sid", issA, "sess-1", apitype.ReasonSessionRevoked, ""},
		{"sid at B", "sid", issB, "sess-1", "", apitype.ReasonSessionRevoked},
		{"sid everywhere", "sid", "", "sess-1", apitype.ReasonSessionRevoked, apitype.ReasonSessionRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := twoIssuers(t)
			a, b := tokenA(t, nil), tokenB(t, nil)
			// Cached first: a hit must see the cutoff as a miss does.
			if ra, rb := reasonOf(t, f, a), reasonOf(t, f, b); ra != "" || rb != "" {
				t.Fatalf("before the cutoff: A %q, B %q, want both active", ra, rb)
			}
			stored, err := f.p.CutoffValue(tc.iss, tc.value)
			if err != nil {
				t.Fatalf("CutoffValue(%q, %q): %v", tc.iss, tc.value, err)
			}
			f.cutoff(tc.claim, stored, t0)
			if got := reasonOf(t, f, a); got != tc.wantA {
				t.Errorf("A's token: reason %q, want %q", got, tc.wantA)
			}
			if got := reasonOf(t, f, b); got != tc.wantB {
				t.Errorf("B's token: reason %q, want %q", got, tc.wantB)
			}
		})
	}
	t.Run("the subject answered is the token's, unscoped", func(t *testing.T) {
		f := twoIssuers(t)
		for name, tok := range map[string]string{"A": tokenA(t, nil), "B": tokenB(t, nil)} {
			if r := f.p.Validate(tok); !r.Active() || r.Token.Subject != "42" || r.Token.SessionID != "sess-1" {
				t.Errorf("%s's token: reason %q, subject %q, sid %q; want active 42, sess-1", name, r.Reason, subjectOf(r), r.Token.SessionID)
			}
		}
	})
	t.Run("a value too long once scoped stays revocable unscoped", func(t *testing.T) {
		// A subject that fits a store alone but not with its issuer can
		// carry no scoped cutoff (CutoffValue's value is refused by every
		// store), so the token is judged by its unscoped value alone.
		f := twoIssuers(t)
		long := strings.Repeat("x", cache.MaxValueBytes-len(issA))
		tok := tokenA(t, claims{"sub": long})
		if got := reasonOf(t, f, tok); got != "" {
			t.Errorf("several issuers: reason %q, want active", got)
		}
		scoped, err := f.p.CutoffValue(issA, long)
		if err != nil {
			t.Fatal(err)
		}
		if cache.CheckCutoff("sub", scoped) == nil {
			t.Fatalf("the scoped value of %d bytes fits a store; the test needs one that does not", len(scoped))
		}
		f.cutoff("sub", long, t0)
		if got := reasonOf(t, f, tok); got != apitype.ReasonSubjectRevoked {
			t.Errorf("after an unscoped cutoff: reason %q, want %q", got, apitype.ReasonSubjectRevoked)
		}
	})
}

// TestCutoffValue: how a request's (iss, value) maps to the value a cutoff
// is stored under, with several issuers, one named and one unnamed.
func TestCutoffValue(t *testing.T) {
	several := twoIssuers(t)
	named := newIssuersFixture(t, pipeline.Config{Issuers: []pipeline.Issuer{issuerA()}})
	flatNamed := newFixture(t, pipeline.Config{HMACSecret: keys().hmac, Issuer: issA})
	unnamed := newFixture(t, pipeline.Config{HMACSecret: keys().hmac})
	tests := []struct {
		name       string
		f          *fixture
		iss, value string
		want       string // "" for an error wrapping cache.ErrInvalid
	}{
		{"several, A", several, issA, "42", issA + "#42"},
		{"several, B", several, issB, "42", issB + "#42"},
		{"several, no iss", several, "", "42", "42"},
		{"several, unknown iss", several, "https://evil.example", "42", ""},
		{"several, A with a slash", several, issA + "/", "42", ""},
		{"one named, its name", named, issA, "42", "42"},
		{"one named, no iss", named, "", "42", "42"},
		{"one named, another", named, issB, "42", ""},
		{"flags with --issuer, its name", flatNamed, issA, "42", "42"},
		{"flags with --issuer, another", flatNamed, issB, "42", ""},
		{"flags without --issuer, any iss", unnamed, issB, "42", "42"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.p.CutoffValue(tc.iss, tc.value)
			if tc.want == "" {
				if !errors.Is(err, cache.ErrInvalid) || !strings.Contains(err.Error(), tc.iss) {
					t.Errorf("got %q, %v; want an error wrapping cache.ErrInvalid naming %q", got, err, tc.iss)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestIssuersRules: audiences (any of a list), algorithms and the subject
// claim are each issuer's own.
func TestIssuersRules(t *testing.T) {
	k := keys()
	a := issuerA()
	a.Audiences = []string{"api", "web"}
	a.Algorithms = []string{"HS512"}
	a.SubjectClaim = "uid"
	b := issuerB(t)
	b.Algorithms = []string{"RS256"}
	f := newIssuersFixture(t, pipeline.Config{Issuers: []pipeline.Issuer{a, b}})
	hs512 := func(c claims) string {
		return mint(t, jwt.SigningMethodHS512, k.hmac, with(with(baseClaims(), claims{"iss": issA, "uid": "42", "aud": "api"}), c), nil)
	}
	tests := []struct {
		name    string
		token   string
		reason  string
		subject string // of an active token
	}{
		{"A: aud first of its list", hs512(nil), "", "42"},
		{"A: aud second of its list", hs512(claims{"aud": "web"}), "", "42"},
		{"A: aud a list naming one of its", hs512(claims{"aud": []string{"x", "web"}}), "", "42"},
		{"A: aud not its", hs512(claims{"aud": "other"}), apitype.ReasonBadAudience, ""},
		{"A: aud B would not check", hs512(claims{"aud": []string{"x", "y"}}), apitype.ReasonBadAudience, ""},
		{"A: no aud", hs512(claims{"aud": nil}), apitype.ReasonMissingClaim, ""},
		{"A: HS256, not among its algorithms", tokenA(t, claims{"uid": "42", "aud": "api"}), apitype.ReasonUnsupportedAlg, ""},
		{"A: subject in sub, not its uid", hs512(claims{"uid": nil}), apitype.ReasonMissingClaim, ""},
		{"A: uid twice", rawHS512(withMember(withMember(validPayload, `"iss":"https://a.example","aud":"api","uid":"1"`), `"uid":"2"`)), apitype.ReasonMalformed, ""},
		{"B: any aud", tokenB(t, claims{"aud": "other"}), "", "42"},
		{"B: its subject in sub", tokenB(t, claims{"uid": "7"}), "", "42"},
		{"B: uid twice is not its concern", mintRaw(t, `{"alg":"RS256"}`, withMember(withMember(validPayload, `"iss":"https://b.example","uid":"1"`), `"uid":"2"`)), "", "alice"},
		{"B: RS512, not among its algorithms", mint(t, jwt.SigningMethodRS512, k.rsa, with(baseClaims(), claims{"iss": issB}), nil), apitype.ReasonUnsupportedAlg, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.p.Validate(tc.token)
			if r.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", r.Reason, tc.reason)
			}
			if tc.reason == "" && r.Token.Subject != tc.subject {
				t.Errorf("subject %q, want %q", r.Token.Subject, tc.subject)
			}
		})
	}
	t.Run("a cutoff on sub reaches A's uid", func(t *testing.T) {
		tokA, tokB := hs512(nil), tokenB(t, nil)
		stored, err := f.p.CutoffValue(issA, "42")
		if err != nil {
			t.Fatal(err)
		}
		f.cutoff("sub", stored, t0)
		if got := f.p.Validate(tokA).Reason; got != apitype.ReasonSubjectRevoked {
			t.Errorf("A's uid 42: reason %q, want %q", got, apitype.ReasonSubjectRevoked)
		}
		if got := f.p.Validate(tokB).Reason; got != "" {
			t.Errorf("B's sub 42: reason %q, want active", got)
		}
	})
	if got, want := f.p.Algorithms(), []string{"HS512", "RS256"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms: %v, want %v", got, want)
	}
	if got, want := f.p.Issuers(), []string{issA, issB}; !slices.Equal(got, want) {
		t.Errorf("Issuers: %v, want %v", got, want)
	}
}

// rawHS512 signs payload as written with the HMAC secret.
func rawHS512(payload string) string {
	return mintRawWith(jwt.SigningMethodHS512, keys().hmac, `{"alg":"HS512"}`, payload)
}

// mintRaw signs header and payload as written with the RSA key.
func mintRaw(t testing.TB, header, payload string) string {
	return mintRawWith(jwt.SigningMethodRS256, keys().rsa, header, payload)
}

func mintRawWith(m jwt.SigningMethod, key any, header, payload string) string {
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := m.Sign(input, key)
	if err != nil {
		panic(err)
	}
	return input + "." + b64(sig)
}

// TestOneIssuerListIsTheFlags: an Issuers list of one entry behaves as the
// one-issuer fields: every token goes to its keys whatever its iss, so
// the reasons are the same (a wrong iss with a bad signature is
// bad_signature, a missing iss missing_claim), and cutoffs are not scoped.
func TestOneIssuerListIsTheFlags(t *testing.T) {
	k := keys()
	configs := map[string]pipeline.Config{
		"flags": {HMACSecret: k.hmac, Issuer: issA, Audience: "api", Algorithms: []string{"HS256"}, SubjectClaim: "uid"},
		"list": {SubjectClaim: "uid", Issuers: []pipeline.Issuer{{
			Issuer: issA, Keys: pipeline.KeyMaterial{HMACSecret: k.hmac}, Audiences: []string{"api"}, Algorithms: []string{"HS256"},
		}}},
	}
	good := with(baseClaims(), claims{"iss": issA, "aud": "api", "uid": "42"})
	tokens := []struct {
		name, token string
		setup       func(f *fixture)
		reason      string // the same for both
	}{
		{name: "good", token: hs256(t, good)},
		{name: "wrong iss", token: hs256(t, with(good, claims{"iss": issB})), reason: apitype.ReasonBadIssuer},
		{name: "wrong iss, bad signature", token: tamperSig(hs256(t, with(good, claims{"iss": issB}))), reason: apitype.ReasonBadSignature},
		{name: "wrong iss, unsupported alg", token: mint(t, jwt.SigningMethodRS256, k.rsa, with(good, claims{"iss": issB}), nil), reason: apitype.ReasonUnsupportedAlg},
		{name: "no iss", token: hs256(t, with(good, claims{"iss": nil})), reason: apitype.ReasonMissingClaim},
		{name: "iss a number", token: hs256(t, with(good, claims{"iss": 7})), reason: apitype.ReasonMalformed},
		{name: "wrong aud", token: hs256(t, with(good, claims{"aud": "web"})), reason: apitype.ReasonBadAudience},
		{name: "no subject claim", token: hs256(t, with(good, claims{"uid": nil})), reason: apitype.ReasonMissingClaim},
		{name: "expired", token: hs256(t, with(good, claims{"exp": t0.Unix()})), reason: apitype.ReasonExpired},
		{name: "unscoped cutoff", token: hs256(t, good), setup: func(f *fixture) { f.cutoff("sub", "42", t0) }, reason: apitype.ReasonSubjectRevoked},
		// Made while several issuers were trusted: it must keep reaching
		// the subject once this one is trusted alone.
		{name: "scoped cutoff", token: hs256(t, good), setup: func(f *fixture) { f.cutoff("sub", issA+"#42", t0) }, reason: apitype.ReasonSubjectRevoked},
		{name: "another issuer's scoped cutoff", token: hs256(t, good), setup: func(f *fixture) { f.cutoff("sub", issB+"#42", t0) }},
		{name: "sid cutoff", token: hs256(t, good), setup: func(f *fixture) { f.cutoff("sid", "sess-1", t0) }, reason: apitype.ReasonSessionRevoked},
	}
	for _, tc := range tokens {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for name, cfg := range configs {
				var f *fixture
				if name == "flags" {
					f = newFixture(t, cfg)
				} else {
					f = newIssuersFixture(t, cfg)
				}
				if tc.setup != nil {
					tc.setup(f)
				}
				got[name] = reasonOf(t, f, tc.token)
			}
			if got["flags"] != tc.reason || got["list"] != tc.reason {
				t.Errorf("flags %q, list %q; want %q for both", got["flags"], got["list"], tc.reason)
			}
		})
	}
}

// TestIssuersConfigErrors: New refuses an issuer table that could not be
// told apart or scoped, or that mixes the one-issuer fields in.
func TestIssuersConfigErrors(t *testing.T) {
	k := keys()
	replica := cache.NewReplica(cache.SystemClock{}, 0, 0)
	named := func(name string) pipeline.Issuer {
		is := issuerA()
		is.Issuer = name
		return is
	}
	rk, err := pipeline.NewRemoteKeys(pipeline.RemoteKeysConfig{JWKSURL: "http://127.0.0.1:1/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	fetchedWithKeys := issuerB(t)
	fetchedWithKeys.RemoteKeys = rk
	tests := []struct {
		name string
		cfg  pipeline.Config
		want string // a piece of the error; "" for none
	}{
		{"duplicate", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), issuerB(t), issuerA()}}, `issuer "https://a.example" is given twice`},
		{"empty name among several", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), named("")}}, "issuer 2: empty issuer"},
		{"# in a name among several", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), named("https://b.example#x")}}, `contains "#"`},
		{"flat secret and issuers", pipeline.Config{HMACSecret: k.hmac, Issuers: []pipeline.Issuer{issuerA()}}, "issuers given with keys"},
		{"flat PEM and issuers", pipeline.Config{PublicKeyPEMs: [][]byte{pemOf(t, k.rsa.Public())}, Issuers: []pipeline.Issuer{issuerA(), issuerB(t)}}, "issuers given with keys"},
		{"flat JWKS and issuers", pipeline.Config{JWKS: []byte(testJWKS()), Issuers: []pipeline.Issuer{issuerA()}}, "issuers given with keys"},
		{"flat remote keys and issuers", pipeline.Config{RemoteKeys: rk, Issuers: []pipeline.Issuer{issuerA()}}, "issuers given with keys"},
		{"flat issuer and issuers", pipeline.Config{Issuer: issA, Issuers: []pipeline.Issuer{issuerA()}}, "issuers given with"},
		{"flat audience and issuers", pipeline.Config{Audience: "api", Issuers: []pipeline.Issuer{issuerA()}}, "issuers given with"},
		{"flat algorithms and issuers", pipeline.Config{Algorithms: []string{"HS256"}, Issuers: []pipeline.Issuer{issuerA()}}, "issuers given with"},
		{"an issuer without keys", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), {Issuer: issB}}}, `issuer "https://b.example": keys`},
		{"an issuer with fetched and given keys", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), fetchedWithKeys}}, "fetched keys exclude keys given at start"},
		{"an algorithm its keys lack", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), {Issuer: issB, Keys: issuerB(t).Keys, Algorithms: []string{"HS256"}}}}, `issuer "https://b.example": algorithms`},
		{"an empty audience", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), {Issuer: issB, Keys: issuerB(t).Keys, Audiences: []string{"api", ""}}}}, "empty audience"},
		{"each mistake reported", pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), issuerA(), named("x#y")}}, "given twice\n"},
		// One issuer is the flags: neither a name nor its characters matter.
		{"one issuer without a name", pipeline.Config{Issuers: []pipeline.Issuer{named("")}}, ""},
		{"one issuer with # in its name", pipeline.Config{Issuers: []pipeline.Issuer{named("https://a.example#x")}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Replica = replica
			p, err := pipeline.New(tc.cfg)
			if err == nil {
				p.Close()
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("New: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestReloadIssuers: ReloadIssuers swaps the whole table; a good reload
// verifies cached tokens again (a removed issuer's cached token is
// bad_issuer at once), a bad one keeps the old table and its cache.
func TestReloadIssuers(t *testing.T) {
	tokC := mint(t, jwt.SigningMethodHS256, secretC, with(baseClaims(), claims{"iss": issC, "sub": "42"}), nil)
	f := twoIssuers(t)
	a, b := tokenA(t, nil), tokenB(t, nil)
	check := func(t *testing.T, want map[string]string) {
		t.Helper()
		for name, tok := range map[string]string{"A": a, "B": b, "C": tokC} {
			if got := f.p.Validate(tok).Reason; got != want[name] {
				t.Errorf("%s's token: reason %q, want %q", name, got, want[name])
			}
		}
	}
	check(t, map[string]string{"C": apitype.ReasonBadIssuer})

	// Scoped cutoffs stay scoped through a reload that keeps the issuers.
	stored, err := f.p.CutoffValue(issA, "42")
	if err != nil {
		t.Fatal(err)
	}
	f.cutoff("sub", stored, t0.Add(-2*time.Minute)) // before the tokens: no effect yet, but held

	waitForHit(t, f, b)
	t.Run("add C", func(t *testing.T) {
		if err := f.p.ReloadIssuers([]pipeline.Issuer{issuerA(), issuerB(t), issuerC()}); err != nil {
			t.Fatalf("ReloadIssuers: %v", err)
		}
		hits := f.p.CacheHits()
		check(t, map[string]string{})
		if f.p.CacheHits() != hits {
			t.Error("a token verified under the old table was answered from the cache")
		}
		if got, want := f.p.Issuers(), []string{issA, issB, issC}; !slices.Equal(got, want) {
			t.Errorf("Issuers: %v, want %v", got, want)
		}
	})
	waitForHit(t, f, b)
	t.Run("remove B", func(t *testing.T) {
		if err := f.p.ReloadIssuers([]pipeline.Issuer{issuerA(), issuerC()}); err != nil {
			t.Fatalf("ReloadIssuers: %v", err)
		}
		check(t, map[string]string{"B": apitype.ReasonBadIssuer})
		if _, err := f.p.CutoffValue(issB, "42"); !errors.Is(err, cache.ErrInvalid) {
			t.Errorf("CutoffValue at the removed B: %v, want ErrInvalid", err)
		}
		if _, ok := f.p.Verifier(issB); ok {
			t.Error("Verifier of the removed B found")
		}
	})
	waitForHit(t, f, a)
	for _, bad := range []struct {
		name string
		list []pipeline.Issuer
	}{
		{"a duplicate", []pipeline.Issuer{issuerA(), issuerB(t), issuerB(t)}},
		{"broken keys", []pipeline.Issuer{issuerA(), issuerB(t), {Issuer: issC, Keys: pipeline.KeyMaterial{JWKS: []byte(`{"keys":[`)}}}},
		{"no issuer", nil},
	} {
		t.Run("broken: "+bad.name, func(t *testing.T) {
			if err := f.p.ReloadIssuers(bad.list); err == nil {
				t.Fatal("ReloadIssuers succeeded, want an error")
			}
			hits := f.p.CacheHits()
			check(t, map[string]string{"B": apitype.ReasonBadIssuer})
			if f.p.CacheHits() == hits {
				t.Error("no answer from the cache: a failed reload must keep the table, and what it verified")
			}
		})
	}
	t.Run("the same table again", func(t *testing.T) {
		// Keys on disk may have changed under the same settings: a good
		// reload always verifies again.
		waitForHit(t, f, a)
		if err := f.p.ReloadIssuers([]pipeline.Issuer{issuerA(), issuerC()}); err != nil {
			t.Fatalf("ReloadIssuers: %v", err)
		}
		hits := f.p.CacheHits()
		if r := f.p.Validate(a); !r.Active() || f.p.CacheHits() != hits {
			t.Errorf("A's token after the reload: reason %q, from the cache %v; want active, verified again", r.Reason, f.p.CacheHits() != hits)
		}
	})
	t.Run("A's cutoff still scoped", func(t *testing.T) {
		f.cutoff("sub", stored, t0)
		if got := f.p.Validate(a).Reason; got != apitype.ReasonSubjectRevoked {
			t.Errorf("A's token: reason %q, want %q", got, apitype.ReasonSubjectRevoked)
		}
		if got := f.p.Validate(tokC).Reason; got != "" {
			t.Errorf("C's sub 42: reason %q, want active", got)
		}
	})
}

// TestReloadIssuersScoping: a reload from one issuer to several starts
// scoping cutoffs; a cutoff made before, unscoped, still reaches the
// subject at every issuer (fail closed).
func TestReloadIssuersScoping(t *testing.T) {
	f := newIssuersFixture(t, pipeline.Config{Issuers: []pipeline.Issuer{issuerA()}})
	a, b := tokenA(t, nil), tokenB(t, nil)
	if got := f.p.Validate(b).Reason; got != apitype.ReasonUnsupportedAlg {
		t.Fatalf("B's token with A alone: reason %q, want %q (every token goes to the one issuer)", got, apitype.ReasonUnsupportedAlg)
	}
	old, err := f.p.CutoffValue(issA, "42")
	if err != nil || old != "42" {
		t.Fatalf("CutoffValue with one issuer: %q, %v; want 42 unscoped", old, err)
	}
	f.cutoff("sub", old, t0)
	if err := f.p.ReloadIssuers([]pipeline.Issuer{issuerA(), issuerB(t)}); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"A": a, "B": b} {
		if got := f.p.Validate(tok).Reason; got != apitype.ReasonSubjectRevoked {
			t.Errorf("%s's token after the second issuer came: reason %q, want %q", name, got, apitype.ReasonSubjectRevoked)
		}
	}
	if got, err := f.p.CutoffValue(issA, "42"); err != nil || got != issA+"#42" {
		t.Errorf("CutoffValue with two issuers: %q, %v; want %q", got, err, issA+"#42")
	}
}

// TestReloadIssuersToOne: a reload from several issuers to one keeps the
// cutoffs scoped to the one left in force, though its new cutoffs are
// written unscoped: removing an issuer must never bring a revoked token
// back. The cutoffs scoped to the issuer removed reach nothing.
func TestReloadIssuersToOne(t *testing.T) {
	f := twoIssuers(t)
	a := tokenA(t, nil)
	forA, err := f.p.CutoffValue(issA, "42")
	if err != nil {
		t.Fatal(err)
	}
	f.cutoff("sub", forA, t0.Add(24*time.Hour)) // a ban at A
	f.cutoff("sid", issB+"#sess-1", t0)         // a logout at B
	if err := f.p.ReloadIssuers([]pipeline.Issuer{issuerA()}); err != nil {
		t.Fatal(err)
	}
	if got := f.p.Validate(a).Reason; got != apitype.ReasonSubjectRevoked {
		t.Errorf("A's banned subject with A alone: reason %q, want %q", got, apitype.ReasonSubjectRevoked)
	}
	if got, err := f.p.CutoffValue(issA, "43"); err != nil || got != "43" {
		t.Errorf("CutoffValue with A alone: %q, %v; want 43 unscoped", got, err)
	}
	if got := f.p.Validate(tokenA(t, claims{"sub": "43"})).Reason; got != "" {
		t.Errorf("A's other subject, whose session B logged out: reason %q, want active", got)
	}
}

// TestIssuersVerifier: the back-channel logout's verifier of an issuer
// checks signatures with that issuer's keys only.
func TestIssuersVerifier(t *testing.T) {
	f := newIssuersFixture(t, pipeline.Config{Issuers: []pipeline.Issuer{issuerA(), issuerB(t), issuerC()}})
	tokC := mint(t, jwt.SigningMethodHS256, secretC, with(baseClaims(), claims{"iss": issC}), nil)
	tests := []struct {
		iss, name, token string
		reason           string
	}{
		{issA, "A's", tokenA(t, nil), ""},
		{issA, "B's", tokenB(t, nil), apitype.ReasonUnsupportedAlg},
		{issA, "C's", tokC, apitype.ReasonBadSignature},
		{issB, "B's", tokenB(t, nil), ""},
		{issB, "A's", tokenA(t, nil), apitype.ReasonUnsupportedAlg},
		{issC, "C's", tokC, ""},
		{issC, "A's", tokenA(t, nil), apitype.ReasonBadSignature},
		// The verifier judges the signature alone: the iss inside is the
		// caller's to compare.
		{issC, "C-signed naming A", mint(t, jwt.SigningMethodHS256, secretC, with(baseClaims(), claims{"iss": issA}), nil), ""},
	}
	for _, tc := range tests {
		t.Run(tc.iss+" "+tc.name, func(t *testing.T) {
			v, ok := f.p.Verifier(tc.iss)
			if !ok {
				t.Fatalf("Verifier(%q): none", tc.iss)
			}
			if _, got := v.VerifySignature(tc.token); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
		})
	}
	for _, iss := range []string{"", "https://evil.example", issA + "#"} {
		if _, ok := f.p.Verifier(iss); ok {
			t.Errorf("Verifier(%q) found, want none", iss)
		}
	}
	one := newFixture(t, pipeline.Config{HMACSecret: keys().hmac})
	if _, ok := one.p.Verifier(""); ok {
		t.Error("Verifier(\"\") of the unnamed one issuer found: a logout token without iss must be refused")
	}
}
