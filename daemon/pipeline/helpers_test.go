package pipeline_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

func TestMain(m *testing.M) {
	// Every test closes its pipeline; ristretto's goroutines must be gone.
	goleak.VerifyTestMain(m)
}

// t0 is the fixtures' now: the shared vectors' now.
var t0 = time.Unix(1_800_000_000, 0)

// testKeys are fresh keys of every kind, made once per test binary.
type testKeys struct {
	hmac  []byte
	rsa   *rsa.PrivateKey
	ec256 *ecdsa.PrivateKey
	ec384 *ecdsa.PrivateKey
	ec521 *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
}

var keys = sync.OnceValue(func() *testKeys {
	k := &testKeys{hmac: make([]byte, 32)}
	rand.Read(k.hmac)
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	for _, c := range []struct {
		curve elliptic.Curve
		key   **ecdsa.PrivateKey
	}{{elliptic.P256(), &k.ec256}, {elliptic.P384(), &k.ec384}, {elliptic.P521(), &k.ec521}} {
		if *c.key, err = ecdsa.GenerateKey(c.curve, rand.Reader); err != nil {
			panic(err)
		}
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// pemOf encodes a public key as a PKIX PEM block.
func pemOf(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// allKeysConfig trusts every test key: the HMAC secret and one PEM per
// public key.
func allKeysConfig(t testing.TB) pipeline.Config {
	k := keys()
	return pipeline.Config{
		HMACSecret: k.hmac,
		PublicKeyPEMs: [][]byte{
			pemOf(t, k.rsa.Public()), pemOf(t, k.ec256.Public()), pemOf(t, k.ec384.Public()),
			pemOf(t, k.ec521.Public()), pemOf(t, k.ed.Public()),
		},
	}
}

// fixture is a pipeline at t0 with its own clock and replica.
type fixture struct {
	t       testing.TB
	clock   *clocktest.Clock
	replica *cache.Replica
	p       *pipeline.Pipeline
}

// newFixture builds a pipeline from cfg (allKeysConfig when it has no
// keys), filling in the clock and replica.
func newFixture(t testing.TB, cfg pipeline.Config) *fixture {
	t.Helper()
	if cfg.HMACSecret == nil && cfg.PublicKeyPEMs == nil && cfg.JWKS == nil {
		base := allKeysConfig(t)
		cfg.HMACSecret, cfg.PublicKeyPEMs = base.HMACSecret, base.PublicKeyPEMs
	}
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

// loseContact moves the clock a minute on with no word from the store,
// past the --stale-after policies the tests set.
func (f *fixture) loseContact() { f.clock.Add(time.Minute) }

// cutoff sets a cutoff with the next version.
func (f *fixture) cutoff(claim, value string, before time.Time) {
	f.t.Helper()
	if !f.replica.ApplyCutoff(cache.Cutoff{Claim: claim, Value: value, Before: before, Version: f.replica.Version() + 1}) {
		f.t.Fatalf("cutoff %s=%s was not applied", claim, value)
	}
}

// deny sets a denial of id, good for an hour, with the next version.
func (f *fixture) deny(id string) {
	f.t.Helper()
	if !f.replica.ApplyDenial(cache.Denial{ID: id, ExpiresAt: f.clock.Now().Add(time.Hour), Version: f.replica.Version() + 1}) {
		f.t.Fatalf("denial of %s was not applied", id)
	}
}

// claims are a token's claims; values are marshalled by encoding/json, so
// json.Number writes a literal exactly.
type claims = map[string]any

// baseClaims is a valid token's claims at t0.
func baseClaims() claims {
	return claims{
		"sub": "alice",
		"jti": "jti-1",
		"sid": "sess-1",
		"iat": t0.Add(-time.Minute).Unix(),
		"exp": t0.Add(time.Hour).Unix(),
	}
}

// with returns c with changes applied; a nil value deletes the claim.
func with(c claims, changes claims) claims {
	out := maps.Clone(c)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// mint signs claims with method and key, adding header fields.
func mint(t testing.TB, method jwt.SigningMethod, key any, c claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(c))
	maps.Copy(tok.Header, header)
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// hs256 signs claims with the test HMAC secret.
func hs256(t testing.TB, c claims) string {
	return mint(t, jwt.SigningMethodHS256, keys().hmac, c, nil)
}

// num writes a JSON number literal as is.
func num(s string) json.Number { return json.Number(s) }
