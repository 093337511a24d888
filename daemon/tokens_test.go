package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// A refresh inside the session keeps orig_iat, to the microsecond, and
// sid; it brings a new jti and iat, and the refreshed token is refused
// from then on.
func TestRefreshKeepsSession(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{MaxSessionAge: 24 * time.Hour}, SigningConfig{Rotation: true})
	first := f.issue(t, "alice")
	c1 := claimsOf(t, first.Token)
	if got, want := string(c1["orig_iat"]), "1800014400.123456"; got != want {
		t.Errorf("orig_iat = %s, want %s: the issue time to the microsecond", got, want)
	}
	if string(c1["iat"]) != string(c1["orig_iat"]) {
		t.Errorf("iat %s differs from orig_iat %s in an issued token", c1["iat"], c1["orig_iat"])
	}
	if got, want := first.Exp, tokenStart.Add(DefaultTokenTTL).Unix(); got != want {
		t.Errorf("exp = %d, want %d (--token-ttl from now)", got, want)
	}
	if len(first.SID) != 22 || len(first.JTI) != 22 || first.SID == first.JTI {
		t.Errorf("sid %q and jti %q: want two distinct 128-bit base64url ids", first.SID, first.JTI)
	}

	f.clock.Add(10 * time.Minute)
	next := f.refresh(t, first.Token)
	if next.Reason != "" {
		t.Fatalf("refresh refused: %s", next.Reason)
	}
	c2 := claimsOf(t, next.Token)
	if string(c2["orig_iat"]) != string(c1["orig_iat"]) || next.SID != first.SID || string(c2["sid"]) != string(c1["sid"]) {
		t.Errorf("refreshed orig_iat %s, sid %s; want the session's %s, %s", c2["orig_iat"], next.SID, c1["orig_iat"], first.SID)
	}
	if next.JTI == first.JTI || string(c2["jti"]) == string(c1["jti"]) {
		t.Errorf("refreshed jti %s is the old one", next.JTI)
	}
	if got, want := string(c2["iat"]), "1800015000.123456"; got != want {
		t.Errorf("refreshed iat = %s, want now, %s", got, want)
	}
	if got, want := next.Exp, f.clock.Now().Add(DefaultTokenTTL).Unix(); got != want {
		t.Errorf("refreshed exp = %d, want %d", got, want)
	}
	if r := f.reason(next.Token); r != "" {
		t.Errorf("refreshed token: %q, want active", r)
	}
	if r := f.reason(first.Token); r != apitype.ReasonRevoked {
		t.Errorf("the refreshed token after its refresh: %q, want %q", r, apitype.ReasonRevoked)
	}
}

// However often a token is refreshed, no token of the session outlives
// orig_iat + --max-session-age, and once there a refresh is
// session_expired.
func TestRefreshChainEndsAtMaxSessionAge(t *testing.T) {
	const maxAge = time.Hour
	f := newTokenFixture(t, pipeline.Config{MaxSessionAge: maxAge}, SigningConfig{Rotation: true, TTL: 15 * time.Minute})
	tok := f.issue(t, "alice").Token
	end := tokenStart.Add(maxAge).Unix()
	var last apitype.RefreshResponse
	for f.clock.Now().Add(7*time.Minute).Unix() < end {
		f.clock.Add(7 * time.Minute)
		resp := f.refresh(t, tok)
		if resp.Reason != "" {
			t.Fatalf("refresh %s into the session refused with %q", f.clock.Now().Sub(tokenStart), resp.Reason)
		}
		if resp.Exp > end {
			t.Fatalf("refresh %s into the session: exp %d is past the session's end %d", f.clock.Now().Sub(tokenStart), resp.Exp, end)
		}
		tok, last = resp.Token, resp
	}
	if last.Exp != end {
		t.Errorf("the last token of the chain expires at %d, want the session's end %d", last.Exp, end)
	}
	// Past the end, within the leeway, the last token has not expired
	// yet, but the session has.
	f.clock.Set(time.Unix(end, 0).Add(time.Second))
	if got := f.refresh(t, tok); got.Reason != apitype.ReasonSessionExpired {
		t.Errorf("refresh past the session's end = %+v, want refused with %q", got, apitype.ReasonSessionExpired)
	}
	f.clock.Set(time.Unix(end, 0).Add(testLeeway + time.Second))
	if r := f.reason(tok); r != apitype.ReasonExpired {
		t.Errorf("the chain's last token past its exp: %q, want %q", r, apitype.ReasonExpired)
	}
}

// A token refreshed once and presented again is reuse: the session is
// revoked, taking the token the first refresh gave, and the refresh is
// refused with session_revoked.
func TestRefreshReuseRevokesSession(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Rotation: true})
	first := f.issue(t, "alice")
	other := f.issue(t, "alice") // another device: another session
	f.clock.Add(time.Minute)
	second := f.refresh(t, first.Token)
	f.clock.Add(time.Minute)
	if got := f.refresh(t, first.Token); got.Reason != apitype.ReasonSessionRevoked || got.Token != "" {
		t.Errorf("refresh of a rotated token = %+v, want refused with %q", got, apitype.ReasonSessionRevoked)
	}
	for name, tok := range map[string]string{"the rotated token": first.Token, "its successor": second.Token} {
		if r := f.reason(tok); r != apitype.ReasonSessionRevoked {
			t.Errorf("%s after reuse: %q, want %q", name, r, apitype.ReasonSessionRevoked)
		}
	}
	if got := f.refresh(t, second.Token); got.Reason != apitype.ReasonSessionRevoked {
		t.Errorf("refresh of the successor after reuse: %+v, want %q", got, apitype.ReasonSessionRevoked)
	}
	if r := f.reason(other.Token); r != "" {
		t.Errorf("the subject's other session after reuse in one: %q, want active", r)
	}
	if n := f.svc.Reuses(); n != 1 {
		t.Errorf("reuses counted: %d, want 1 (the successor's refusal was already a revoked session, not reuse)", n)
	}
}

// Reuse is decided by the store, not by this daemon's replica: a token
// another daemon has already rotated (its denial is in the store, its
// notification not yet here) validates here, but its refresh loses the
// race to store the denial, and is reuse.
func TestRefreshReuseDecidedByStore(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Rotation: true})
	first := f.issue(t, "alice")
	f.src.deniedInStoreOnly(first.JTI, time.Unix(first.Exp, 0))
	f.clock.Add(time.Second)
	if r := f.reason(first.Token); r != "" {
		t.Fatalf("the replica already knows of the denial (%q); the test needs it not to", r)
	}
	if got := f.refresh(t, first.Token); got.Reason != apitype.ReasonSessionRevoked || got.Token != "" {
		t.Errorf("refresh that lost the race in the store = %+v, want refused with %q", got, apitype.ReasonSessionRevoked)
	}
	if r := f.reason(first.Token); r != apitype.ReasonSessionRevoked {
		t.Errorf("after the reuse: %q, want %q", r, apitype.ReasonSessionRevoked)
	}
}

// Without rotation a token refreshes any number of times and stays valid.
func TestRefreshWithoutRotation(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Rotation: false})
	first := f.issue(t, "alice")
	for i := range 3 {
		f.clock.Add(time.Minute)
		if got := f.refresh(t, first.Token); got.Reason != "" || got.SID != first.SID {
			t.Fatalf("refresh %d = %+v, want a token of session %s", i, got, first.SID)
		}
	}
	if r := f.reason(first.Token); r != "" {
		t.Errorf("refreshed token without rotation: %q, want active", r)
	}
}

// What cannot refresh: every token the pipeline refuses, with its reason,
// and one without a sid.
func TestRefreshRefused(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{HMACSecret: testSecret}, SigningConfig{Rotation: true})
	ctx := context.Background()
	expired := f.issue(t, "alice").Token
	f.clock.Add(DefaultTokenTTL + time.Hour)
	banned := f.issue(t, "bob").Token
	f.clock.Add(time.Second)
	if _, err := f.svc.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "bob"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, want string
	}{
		{"garbage", "not.a.token", apitype.ReasonMalformed},
		{"expired", expired, apitype.ReasonExpired},
		{"subject cut off", banned, apitype.ReasonSubjectRevoked},
		{"no sid", mint(t, "carol", "j-1", f.clock.Now()), apitype.ReasonMissingClaim},
		{"a sid that is no string", mintClaims(t, jwt.MapClaims{"sub": "carol", "sid": 7, "iat": f.clock.Now().Unix(), "exp": f.clock.Now().Add(time.Hour).Unix()}), apitype.ReasonMissingClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.refresh(t, tc.token); got.Reason != tc.want || got.Token != "" {
				t.Errorf("refresh = %+v, want refused with %q", got, tc.want)
			}
		})
	}
	f.src.mu.Lock()
	f.src.down = true
	f.src.mu.Unlock()
	live := f.issue(t, "dave").Token
	if _, err := f.svc.Refresh(ctx, apitype.RefreshRequest{Token: live}); !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("refresh with the store down: %v, want %v (the denial could not be stored)", err, cache.ErrUnavailable)
	}
}

// A revoke with the token in hand and scope session cuts off its session:
// the token and its refreshed descendants, not the subject's other
// sessions. Scope subject takes them all.
func TestRevokeScope(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Rotation: true})
	ctx := context.Background()
	first := f.issue(t, "alice")
	other := f.issue(t, "alice")
	f.clock.Add(time.Minute)
	second := f.refresh(t, first.Token)
	f.clock.Add(time.Minute)
	third := f.refresh(t, second.Token)

	resp, err := f.svc.Revoke(ctx, apitype.RevokeRequest{Token: second.Token, Scope: apitype.ScopeSession})
	if err != nil || resp.Stored {
		t.Fatalf("scope session with a rotated (denied) token = %+v, %v; want stored false", resp, err)
	}
	resp, err = f.svc.Revoke(ctx, apitype.RevokeRequest{Token: third.Token, Scope: apitype.ScopeSession})
	if err != nil || !resp.Stored {
		t.Fatalf("scope session = %+v, %v; want stored", resp, err)
	}
	for name, tok := range map[string]string{"first": first.Token, "second": second.Token, "third": third.Token} {
		if r := f.reason(tok); r != apitype.ReasonSessionRevoked {
			t.Errorf("%s token of the session: %q, want %q", name, r, apitype.ReasonSessionRevoked)
		}
	}
	if r := f.reason(other.Token); r != "" {
		t.Fatalf("the other session: %q, want active", r)
	}
	resp, err = f.svc.Revoke(ctx, apitype.RevokeRequest{Token: other.Token, Scope: apitype.ScopeSubject})
	if err != nil || !resp.Stored {
		t.Fatalf("scope subject = %+v, %v; want stored", resp, err)
	}
	if r := f.reason(other.Token); r != apitype.ReasonSubjectRevoked {
		t.Errorf("after scope subject: %q, want %q", r, apitype.ReasonSubjectRevoked)
	}
	if _, err := f.svc.Revoke(ctx, apitype.RevokeRequest{Token: f.issue(t, "bob").Token, Scope: "device"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("unknown scope: %v, want a bad request", err)
	}
}

// Issue then validate, for every algorithm: the token validates through
// the pipeline, carries the key's kid, and verifies with go-jose against
// the key /v1/jwks publishes for that kid (HMAC keys are never published).
func TestIssueEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			key := signingKeyPEM(t, alg, false)
			f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Alg: alg, Key: func() ([]byte, error) { return key, nil }})
			tok := f.issue(t, "alice").Token
			if r := f.reason(tok); r != "" {
				t.Fatalf("issued %s token: %q, want active", alg, r)
			}
			h := headerOf(t, tok)
			if h["alg"] != alg {
				t.Errorf("alg = %q, want %q", h["alg"], alg)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(f.svc.JWKS(), &set); err != nil {
				t.Fatalf("JWKS %s: %v", f.svc.JWKS(), err)
			}
			if strings.HasPrefix(alg, "HS") {
				if len(set.Keys) != 0 || h["kid"] != "" {
					t.Errorf("HMAC: published %d keys and kid %q, want none", len(set.Keys), h["kid"])
				}
				return
			}
			keys := set.Key(h["kid"])
			if len(keys) != 1 {
				t.Fatalf("JWKS holds %d keys of kid %q, want 1: %s", len(keys), h["kid"], f.svc.JWKS())
			}
			if !keys[0].IsPublic() || keys[0].Algorithm != alg {
				t.Errorf("published key: public %v, alg %q; want public, %s", keys[0].IsPublic(), keys[0].Algorithm, alg)
			}
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(keys[0]); err != nil {
				t.Errorf("go-jose cannot verify the token with the published key: %v", err)
			}
		})
	}
}

// The claims of an issue reach the token; one naming a claim revokd sets
// is a bad request, as are a missing subject and a negative ttl.
func TestIssueRequests(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{SubjectClaim: "id"}, SigningConfig{})
	ctx := context.Background()
	resp, err := f.svc.Issue(ctx, apitype.IssueRequest{Sub: "42", TTL: 60, Claims: map[string]json.RawMessage{
		"role": json.RawMessage(`"admin"`), "scopes": json.RawMessage(`[ "a", "b" ]`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, resp.Token)
	if string(c["id"]) != `"42"` || string(c["role"]) != `"admin"` || string(c["scopes"]) != `["a","b"]` || c["sub"] != nil {
		t.Errorf("claims %s: want id 42 (the subject claim), role, scopes", claimsJSON(c))
	}
	if resp.Exp != tokenStart.Unix()+60 {
		t.Errorf("exp %d, want %d: the asked ttl", resp.Exp, tokenStart.Unix()+60)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "orig_iat", "id"} {
		_, err := f.svc.Issue(ctx, apitype.IssueRequest{Sub: "42", Claims: map[string]json.RawMessage{name: json.RawMessage(`1`)}})
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("claims setting %s: %v, want a bad request naming it", name, err)
		}
	}
	if _, err := f.svc.Issue(ctx, apitype.IssueRequest{Sub: "42", TTL: -1}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("negative ttl: %v, want a bad request", err)
	}
	if _, err := f.svc.Issue(ctx, apitype.IssueRequest{}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("no sub: %v, want a bad request", err)
	}
}

func claimsJSON(c map[string]json.RawMessage) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// A token issued right after a cutoff, in the same second, is active; one
// issued just before it is not: iat and orig_iat carry microseconds.
func TestIssueMicrosecondsAgainstCutoff(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{})
	before := f.issue(t, "alice").Token
	f.clock.Add(time.Microsecond)
	if _, err := f.svc.RevokeAll(context.Background(), apitype.RevokeAllRequest{Sub: "alice"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Microsecond)
	after := f.issue(t, "alice").Token
	if r := f.reason(before); r != apitype.ReasonSubjectRevoked {
		t.Errorf("issued a microsecond before the cutoff: %q, want %q", r, apitype.ReasonSubjectRevoked)
	}
	if r := f.reason(after); r != "" {
		t.Errorf("issued a microsecond after the cutoff: %q, want active", r)
	}
}

// --public-keys-only, and a daemon without a signing key, mint nothing;
// the first still verifies and publishes the key.
func TestNoMinting(t *testing.T) {
	key := signingKeyPEM(t, "ES256", false)
	pub := newTokenFixture(t, pipeline.Config{}, SigningConfig{Key: func() ([]byte, error) { return key, nil }})
	tok := pub.issue(t, "alice").Token
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{PublicOnly: true, Key: func() ([]byte, error) { return key, nil }})
	ctx := context.Background()
	if _, err := f.svc.Issue(ctx, apitype.IssueRequest{Sub: "alice"}); !errors.Is(err, errNotFound) {
		t.Errorf("issue with --public-keys-only: %v, want not found", err)
	}
	if _, err := f.svc.Refresh(ctx, apitype.RefreshRequest{Token: tok}); !errors.Is(err, errNotFound) {
		t.Errorf("refresh with --public-keys-only: %v, want not found", err)
	}
	if r := f.reason(tok); r != "" {
		t.Errorf("a token of the shared key on the --public-keys-only daemon: %q, want active", r)
	}
	if string(f.svc.JWKS()) != string(pub.svc.JWKS()) {
		t.Errorf("published keys differ: %s and %s", f.svc.JWKS(), pub.svc.JWKS())
	}
	for name, d := range map[string]*Daemon{"minting": pub.d, "--public-keys-only": f.d} {
		if got, want := d.opts.Server.WriteUIDs, defaultWriters(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("write uids of a %s daemon with a signing key: %v, want its own uid and root, %v", name, got, want)
		}
	}
	d, _, _ := newDaemon(t, 0, nil)
	if _, err := d.svc.Issue(ctx, apitype.IssueRequest{Sub: "alice"}); !errors.Is(err, errNotFound) {
		t.Errorf("issue without a signing key: %v, want not found", err)
	}
}

// A reload reads the signing key again: new tokens carry the new kid,
// tokens of the old key stay valid only while it is still trusted (here,
// as a --public-key), and /v1/jwks publishes both. A bad new key changes
// nothing.
func TestReloadRotatesSigningKey(t *testing.T) {
	oldKey := signingKeyPEM(t, "ES256", true)
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{})
	f.setKey(oldKey)
	if err := f.d.Reload(func() (pipeline.KeyMaterial, error) { return pipeline.KeyMaterial{}, nil }); err != nil {
		t.Fatal(err)
	}
	oldTok := f.issue(t, "alice").Token
	oldKid := headerOf(t, oldTok)["kid"]
	oldPub := publicPEM(t, oldKey)

	f.setKey([]byte("not a key"))
	if err := f.d.Reload(func() (pipeline.KeyMaterial, error) { return pipeline.KeyMaterial{}, nil }); err == nil {
		t.Fatal("reload with a broken signing key succeeded")
	}
	if kid := headerOf(t, f.issue(t, "alice").Token)["kid"]; kid != oldKid {
		t.Errorf("after a failed reload: kid %q, want the old %q", kid, oldKid)
	}

	f.setKey(signingKeyPEM(t, "ES256", true))
	trustOld := func() (pipeline.KeyMaterial, error) {
		return pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{oldPub}}, nil
	}
	if err := f.d.Reload(trustOld); err != nil {
		t.Fatal(err)
	}
	newTok := f.issue(t, "alice").Token
	if kid := headerOf(t, newTok)["kid"]; kid == oldKid || kid == "" {
		t.Errorf("after rotation: kid %q, want a new one", kid)
	}
	if st := f.svc.Status(); st.SigningKID != headerOf(t, newTok)["kid"] || st.SigningAlg != "ES256" || !st.Minting {
		t.Errorf("status after rotation: signing %q %q, minting %v; want the new key's kid, ES256, true", st.SigningAlg, st.SigningKID, st.Minting)
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if r := f.reason(tok); r != "" {
			t.Errorf("%s key's token: %q, want active", name, r)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.svc.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || len(set.Key(oldKid)) != 1 || len(set.Key(headerOf(t, newTok)["kid"])) != 1 {
		t.Errorf("published after rotation: %s; want the new key and the old one", f.svc.JWKS())
	}
	// Once the old key is no longer trusted, its tokens fail.
	if err := f.d.Reload(func() (pipeline.KeyMaterial, error) { return pipeline.KeyMaterial{}, nil }); err != nil {
		t.Fatal(err)
	}
	if r := f.reason(oldTok); r != apitype.ReasonBadSignature {
		t.Errorf("old key's token once the key is dropped: %q, want %q", r, apitype.ReasonBadSignature)
	}
}
