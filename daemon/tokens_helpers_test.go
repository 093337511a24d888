package daemon

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// signingKeys caches one generated private key (PEM) per kind, as RSA key
// generation is slow.
var signingKeys sync.Map // kind → []byte

// signingKeyPEM returns a PEM private key fit for alg (an HS alg gets a
// secret), the same one for every call with the same kind of key unless
// fresh is set.
func signingKeyPEM(t testing.TB, alg string, fresh bool) []byte {
	t.Helper()
	kind := alg
	switch {
	case strings.HasPrefix(alg, "HS"):
		return []byte(strings.Repeat("s", 64))
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		kind = "RSA"
	}
	if b, ok := signingKeys.Load(kind); ok && !fresh {
		return b.([]byte)
	}
	var key any
	var err error
	switch kind {
	case "RSA":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if !fresh {
		signingKeys.Store(kind, b)
	}
	return b
}

// tokenFixture is a daemon that mints, over a memSource, its replica
// ready, at t0 plus some microseconds on a manual clock.
type tokenFixture struct {
	d     *Daemon
	svc   *Service
	src   *memSource
	clock *clocktest.Clock
	key   []byte // what the signing key's loader reads; a test may swap it
	mu    sync.Mutex
}

// tokenStart is the fixture clock's start: t0 with a fraction, so that
// microseconds show.
var tokenStart = t0.Add(123456 * time.Microsecond)

func newTokenFixture(t testing.TB, pc pipeline.Config, sc SigningConfig) *tokenFixture {
	t.Helper()
	f := &tokenFixture{clock: clocktest.New(tokenStart)}
	if sc.Key == nil {
		f.key = signingKeyPEM(t, "ES256", false)
		sc.Key = func() ([]byte, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.key, nil
		}
	}
	if pc.Leeway == 0 {
		pc.Leeway = testLeeway
	}
	f.d, f.src = openMemDaemon(t, f.clock, Options{Pipeline: pc, Signing: &sc})
	f.d.replica.SetReady()
	f.d.replica.Touch()
	f.svc = f.d.svc
	return f
}

func (f *tokenFixture) setKey(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.key = b
}

func (f *tokenFixture) issue(t testing.TB, sub string) apitype.IssueResponse {
	t.Helper()
	resp, err := f.svc.Issue(context.Background(), apitype.IssueRequest{Sub: sub})
	if err != nil {
		t.Fatalf("issue for %s: %v", sub, err)
	}
	return resp
}

func (f *tokenFixture) refresh(t testing.TB, token string) apitype.RefreshResponse {
	t.Helper()
	resp, err := f.svc.Refresh(context.Background(), apitype.RefreshRequest{Token: token})
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	return resp
}

func (f *tokenFixture) reason(token string) string { return f.svc.Validate(token).Reason }

// claimsOf decodes a token's payload, numbers as written.
func claimsOf(t testing.TB, token string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// headerOf decodes a token's header.
func headerOf(t testing.TB, token string) map[string]string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// deniedInStoreOnly records a denial in the store without telling the
// replica: what another daemon's write looks like before its notification
// arrives.
func (m *memSource) deniedInStoreOnly(id string, exp time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.denials[id] = exp
}

var _ cache.Source = (*memSource)(nil)

// publicPEM is the PEM public key of a PEM private key.
func publicPEM(t testing.TB, private []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(private)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.(interface{ Public() crypto.PublicKey }).Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
