package pipeline_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// TestReload swaps the HMAC secret for a PEM key and checks each outcome
// of a reload: good keys replace the old ones, bad ones change nothing.
func TestReload(t *testing.T) {
	k := keys()
	newSecret := []byte("the-new-shared-secret-of-32-bytes")
	oldTok := hs256(t, baseClaims())
	newTok := mint(t, jwt.SigningMethodHS256, newSecret, baseClaims(), nil)
	rsaTok := mint(t, jwt.SigningMethodRS256, k.rsa, baseClaims(), nil)

	tests := []struct {
		name    string
		algs    []string
		m       pipeline.KeyMaterial
		wantErr bool
		want    map[string]string // token name -> reason ("" is active)
	}{
		{
			name: "new secret",
			m:    pipeline.KeyMaterial{HMACSecret: newSecret},
			want: map[string]string{"old": apitype.ReasonBadSignature, "new": "", "rsa": apitype.ReasonUnsupportedAlg},
		},
		{
			name: "secret to PEM key",
			m:    pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{pemOf(t, k.rsa.Public())}},
			want: map[string]string{"old": apitype.ReasonUnsupportedAlg, "new": apitype.ReasonUnsupportedAlg, "rsa": ""},
		},
		{
			name:    "broken PEM",
			m:       pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{[]byte("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")}},
			wantErr: true,
			want:    map[string]string{"old": "", "new": apitype.ReasonBadSignature, "rsa": apitype.ReasonUnsupportedAlg},
		},
		{
			name:    "broken JWKS",
			m:       pipeline.KeyMaterial{JWKS: []byte(`{"keys":[`)},
			wantErr: true,
			want:    map[string]string{"old": "", "new": apitype.ReasonBadSignature, "rsa": apitype.ReasonUnsupportedAlg},
		},
		{
			name:    "no keys",
			wantErr: true,
			want:    map[string]string{"old": "", "new": apitype.ReasonBadSignature, "rsa": apitype.ReasonUnsupportedAlg},
		},
		{
			name:    "configured algorithm left without a key",
			algs:    []string{"HS256"},
			m:       pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{pemOf(t, k.rsa.Public())}},
			wantErr: true,
			want:    map[string]string{"old": "", "new": apitype.ReasonBadSignature, "rsa": apitype.ReasonUnsupportedAlg},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, pipeline.Config{HMACSecret: k.hmac, Algorithms: tc.algs})
			before := f.p.Algorithms()
			err := f.p.Reload(tc.m)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reload: err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr && !slices.Equal(f.p.Algorithms(), before) {
				t.Errorf("algorithms after a failed reload = %v, want %v", f.p.Algorithms(), before)
			}
			for name, tok := range map[string]string{"old": oldTok, "new": newTok, "rsa": rsaTok} {
				if got := f.p.Validate(tok).Reason; got != tc.want[name] {
					t.Errorf("%s token: reason %q, want %q", name, got, tc.want[name])
				}
			}
		})
	}
}

// TestReloadClearsCache: a token answered from the cache before a reload
// that removes its key is refused right after it.
func TestReloadClearsCache(t *testing.T) {
	k := keys()
	f := newFixture(t, pipeline.Config{HMACSecret: k.hmac})
	tok := hs256(t, baseClaims())
	if r := f.p.Validate(tok); !r.Active() {
		t.Fatalf("before reload: reason %q, want active", r.Reason)
	}
	f.p.WaitCache()
	hits := f.p.CacheHits()
	if r := f.p.Validate(tok); !r.Active() || f.p.CacheHits() != hits+1 {
		t.Fatalf("second validation: reason %q, hits %d, want active from the cache (hits %d)", r.Reason, f.p.CacheHits(), hits+1)
	}
	if err := f.p.Reload(pipeline.KeyMaterial{HMACSecret: []byte("another-secret-of-at-least-32-bytes")}); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	hits = f.p.CacheHits()
	if r := f.p.Validate(tok); r.Reason != apitype.ReasonBadSignature {
		t.Errorf("after reload: reason %q, want %q", r.Reason, apitype.ReasonBadSignature)
	}
	if f.p.CacheHits() != hits {
		t.Errorf("after reload the cache answered for a token verified under the old keys")
	}
}

// TestReloadKidRemoved: a JWKS reload that drops a kid makes its cached
// tokens unknown_key.
func TestReloadKidRemoved(t *testing.T) {
	k := keys()
	f := newFixture(t, pipeline.Config{JWKS: []byte(`{"keys":[` + ecJWK("a", "ES256", k.ec256) + `,` + ecJWK("b", "ES384", k.ec384) + `]}`)})
	tok := mint(t, jwt.SigningMethodES256, k.ec256, baseClaims(), map[string]any{"kid": "a"})
	if r := f.p.Validate(tok); !r.Active() {
		t.Fatalf("before reload: reason %q, want active", r.Reason)
	}
	f.p.WaitCache()
	// The same key under another kid: only the kid decides.
	if err := f.p.Reload(pipeline.KeyMaterial{JWKS: []byte(`{"keys":[` + ecJWK("c", "ES256", k.ec256) + `]}`)}); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if r := f.p.Validate(tok); r.Reason != apitype.ReasonUnknownKey {
		t.Errorf("after reload: reason %q, want %q", r.Reason, apitype.ReasonUnknownKey)
	}
}

func TestReloadRemoteKeys(t *testing.T) {
	rk, err := pipeline.NewRemoteKeys(pipeline.RemoteKeysConfig{JWKSURL: "http://127.0.0.1:1/jwks.json"})
	if err != nil {
		t.Fatalf("NewRemoteKeys: %v", err)
	}
	f := newFixture(t, pipeline.Config{})
	p, err := pipeline.New(pipeline.Config{RemoteKeys: rk, Replica: f.replica})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close)
	if err := p.Reload(pipeline.KeyMaterial{HMACSecret: keys().hmac}); !errors.Is(err, pipeline.ErrRemoteKeys) {
		t.Errorf("Reload with remote keys: err = %v, want ErrRemoteKeys", err)
	}
}
