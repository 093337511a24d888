package daemon

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// newIssuingTwoIssuerDaemon trusts A and B and signs its own tokens as
// iss, with the key *key holds.
func newIssuingTwoIssuerDaemon(t *testing.T, iss string, key *[]byte, mu *sync.Mutex) (*Daemon, *clocktest.Clock) {
	t.Helper()
	sc := SigningConfig{Issuer: iss, Rotation: true, Key: func() ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return *key, nil
	}}
	clock := clocktest.New(t0)
	d, _ := openMemDaemon(t, clock, Options{
		Pipeline: pipeline.Config{Leeway: testLeeway},
		Issuers:  twoIssuers(t),
		Signing:  &sc,
	})
	d.replica.SetReady()
	d.replica.Touch()
	return d, clock
}

// TestIssueWithSeveralIssuers: with an issuers table, the daemon's tokens
// are verified by the entry of the signing issuer, which the signing key
// joins (B, keeping B's own key) or forms (an issuer of their own). Its
// tokens validate, refresh and logout by session are scoped to that
// issuer, the other issuers' tokens still validate, /v1/jwks publishes
// that issuer's keys, and a reload of the issuers rotates the signing key.
func TestIssueWithSeveralIssuers(t *testing.T) {
	for _, iss := range []string{issB, "https://self.example"} {
		t.Run(iss, func(t *testing.T) {
			var mu sync.Mutex
			key := signingKeyPEM(t, "ES256", true)
			d, clock := newIssuingTwoIssuerDaemon(t, iss, &key, &mu)
			ctx := context.Background()
			tok, err := d.svc.Issue(ctx, apitype.IssueRequest{Sub: "42"})
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			others := map[string]string{
				"A's": accessToken(t, issA, "42", tok.SID),
				"B's": accessToken(t, issB, "42", tok.SID),
			}
			checkReasons(t, d.svc, others, nil)
			if r := d.svc.Validate(tok.Token); !r.Active() || r.Token.Issuer() != iss {
				t.Fatalf("issued token: reason %q, want active at %s", r.Reason, iss)
			}
			jwks := string(d.svc.JWKS())
			if n := strings.Count(jwks, `"kty"`); n != map[bool]int{true: 2, false: 1}[iss == issB] {
				t.Errorf("/v1/jwks holds %d keys, want the signing issuer's: %s", n, jwks)
			}

			next, err := d.svc.Refresh(ctx, apitype.RefreshRequest{Token: tok.Token})
			if err != nil || next.Token == "" {
				t.Fatalf("refresh: %+v, %v", next, err)
			}
			clock.Add(time.Second)
			if _, err := d.svc.Revoke(ctx, apitype.RevokeRequest{Token: next.Token, Scope: apitype.ScopeSession}); err != nil {
				t.Fatal(err)
			}
			if got := d.svc.Validate(next.Token).Reason; got != apitype.ReasonSessionRevoked {
				t.Errorf("refreshed token after its session's logout: %q, want %q", got, apitype.ReasonSessionRevoked)
			}
			want := map[string]string{}
			if iss == issB {
				want["B's"] = apitype.ReasonSessionRevoked // the same session at the same issuer
			}
			checkReasons(t, d.svc, others, want)

			mu.Lock()
			key = signingKeyPEM(t, "ES256", true)
			mu.Unlock()
			if err := d.ReloadIssuers(func() ([]Issuer, error) { return twoIssuers(t), nil }); err != nil {
				t.Fatalf("reload: %v", err)
			}
			rotated, err := d.svc.Issue(ctx, apitype.IssueRequest{Sub: "43"})
			if err != nil {
				t.Fatal(err)
			}
			if headerOf(t, rotated.Token)["kid"] == headerOf(t, tok.Token)["kid"] {
				t.Error("the reloaded signing key kept the old kid")
			}
			if r := d.svc.Validate(rotated.Token); !r.Active() {
				t.Errorf("token of the reloaded key: %q, want active", r.Reason)
			}
		})
	}
}

// TestSigningIssuerFetched: the signing key cannot join an issuer whose
// keys are fetched, nor go without a signing issuer among several.
func TestSigningIssuerFetched(t *testing.T) {
	fetched := []Issuer{{Issuer: pipeline.Issuer{Issuer: issA}, Fetch: &pipeline.RemoteKeysConfig{JWKSURL: "http://127.0.0.1:1/jwks"}}}
	key := func() ([]byte, error) { return signingKeyPEM(t, "ES256", false), nil }
	for _, tc := range []struct {
		name    string
		issuers []Issuer
		iss     string
		want    string
	}{
		{"fetched", fetched, issA, "fetched"},
		{"no signing issuer", twoIssuers(t), "", "--signing-issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{
				Issuers: tc.issuers, Signing: &SigningConfig{Issuer: tc.iss, Key: key},
				Source: func(*cache.Replica) (cache.Source, error) { return nil, nil },
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
