package pipeline_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func ecJWK(kid, alg string, k *ecdsa.PrivateKey) string {
	size := (k.Curve.Params().BitSize + 7) / 8
	x, y := make([]byte, size), make([]byte, size)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	algField := ""
	if alg != "" {
		algField = fmt.Sprintf(`"alg":%q,`, alg)
	}
	return fmt.Sprintf(`{"kty":"EC","kid":%q,%s"crv":%q,"x":%q,"y":%q}`, kid, algField, k.Curve.Params().Name, b64(x), b64(y))
}

// testJWKS holds every test public key, with and without "alg", plus keys
// that must be skipped.
func testJWKS() string {
	k := keys()
	return `{"keys":[` + strings.Join([]string{
		fmt.Sprintf(`{"kty":"RSA","kid":"rsa","n":%q,"e":"AQAB"}`, b64(k.rsa.N.Bytes())),
		ecJWK("ec256", "ES256", k.ec256),
		ecJWK("ec384", "", k.ec384),
		ecJWK("ec521", "ES512", k.ec521),
		fmt.Sprintf(`{"kty":"OKP","kid":"ed","alg":"EdDSA","crv":"Ed25519","x":%q}`, b64(k.ed.Public().(ed25519.PublicKey))),
		fmt.Sprintf(`{"kty":"RSA","kid":"enc","use":"enc","alg":"RSA-OAEP","n":%q,"e":"AQAB"}`, b64(k.rsa.N.Bytes())),
		`{"kty":"XYZ","kid":"future"}`,
	}, ",") + `]}`
}

// TestKeyTypes signs with every algorithm and key kind, through PEM keys and
// a JWKS.
func TestKeyTypes(t *testing.T) {
	k := keys()
	pemFixture := newFixture(t, pipeline.Config{})
	jwksFixture := newFixture(t, pipeline.Config{JWKS: []byte(testJWKS())})
	tests := []struct {
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{jwt.SigningMethodHS256, k.hmac, ""},
		{jwt.SigningMethodHS384, k.hmac, ""},
		{jwt.SigningMethodHS512, k.hmac, ""},
		{jwt.SigningMethodRS256, k.rsa, "rsa"},
		{jwt.SigningMethodRS384, k.rsa, "rsa"},
		{jwt.SigningMethodRS512, k.rsa, "rsa"},
		{jwt.SigningMethodPS256, k.rsa, "rsa"},
		{jwt.SigningMethodPS512, k.rsa, "rsa"},
		{jwt.SigningMethodES256, k.ec256, "ec256"},
		{jwt.SigningMethodES384, k.ec384, "ec384"},
		{jwt.SigningMethodES512, k.ec521, "ec521"},
		{jwt.SigningMethodEdDSA, k.ed, "ed"},
	}
	for _, tc := range tests {
		t.Run(tc.method.Alg(), func(t *testing.T) {
			tok := mint(t, tc.method, tc.key, baseClaims(), nil)
			if r := pemFixture.p.Validate(tok); !r.Active() {
				t.Errorf("PEM keys: reason = %q, want active", r.Reason)
			}
			if tc.kid == "" {
				return // the JWKS holds no secret
			}
			withKid := mint(t, tc.method, tc.key, baseClaims(), map[string]any{"kid": tc.kid})
			if r := jwksFixture.p.Validate(withKid); !r.Active() {
				t.Errorf("JWKS, kid %s: reason = %q, want active", tc.kid, r.Reason)
			}
			if r := jwksFixture.p.Validate(tok); !r.Active() {
				t.Errorf("JWKS, no kid: reason = %q, want active", r.Reason)
			}
		})
	}
	t.Run("kid of another key", func(t *testing.T) {
		tok := mint(t, jwt.SigningMethodES256, k.ec256, baseClaims(), map[string]any{"kid": "ec384"})
		if r := jwksFixture.p.Validate(tok); r.Reason != apitype.ReasonUnsupportedAlg {
			t.Fatalf("reason = %q, want %q", r.Reason, apitype.ReasonUnsupportedAlg)
		}
	})
	t.Run("encryption key skipped", func(t *testing.T) {
		tok := mint(t, jwt.SigningMethodRS256, k.rsa, baseClaims(), map[string]any{"kid": "enc"})
		if r := jwksFixture.p.Validate(tok); r.Reason != apitype.ReasonUnknownKey {
			t.Fatalf("reason = %q, want %q", r.Reason, apitype.ReasonUnknownKey)
		}
	})
	t.Run("kid naming nothing falls back to keys without kid", func(t *testing.T) {
		tok := mint(t, jwt.SigningMethodHS256, k.hmac, baseClaims(), map[string]any{"kid": "whatever"})
		if r := pemFixture.p.Validate(tok); !r.Active() {
			t.Fatalf("reason = %q, want active", r.Reason)
		}
	})
}

// TestDefaultAlgorithms checks that the allowed algorithms default to what
// the keys support, and that an EC key allows only its curve's algorithm.
func TestDefaultAlgorithms(t *testing.T) {
	k := keys()
	tests := []struct {
		name string
		cfg  pipeline.Config
		want []string
	}{
		{"secret", pipeline.Config{HMACSecret: k.hmac}, []string{"HS256", "HS384", "HS512"}},
		{"RSA", pipeline.Config{PublicKeyPEMs: [][]byte{pemOf(t, k.rsa.Public())}},
			[]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}},
		{"P-384 and Ed25519", pipeline.Config{PublicKeyPEMs: [][]byte{pemOf(t, k.ec384.Public()), pemOf(t, k.ed.Public())}},
			[]string{"ES384", "EdDSA"}},
		{"JWKS", pipeline.Config{JWKS: []byte(testJWKS())},
			[]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}},
		{"configured", pipeline.Config{HMACSecret: k.hmac, Algorithms: []string{"HS512", "HS256", "HS512"}}, []string{"HS512", "HS256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newFixture(t, tc.cfg).p.Algorithms(); !slices.Equal(got, tc.want) {
				t.Fatalf("Algorithms() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNewErrors checks that bad configurations are refused with an error
// that says what is wrong.
func TestNewErrors(t *testing.T) {
	k := keys()
	der, err := x509.MarshalPKCS8PrivateKey(k.ec256)
	if err != nil {
		t.Fatal(err)
	}
	privatePEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	replica := cache.NewReplica(cache.SystemClock{}, 0, 0)
	tests := []struct {
		name string
		cfg  pipeline.Config
		want string // a piece of the error message
	}{
		{"no keys", pipeline.Config{Replica: replica}, "no verification keys"},
		{"no replica", pipeline.Config{HMACSecret: k.hmac}, "no replica"},
		{"not PEM", pipeline.Config{PublicKeyPEMs: [][]byte{[]byte("hello")}, Replica: replica}, "no PEM block"},
		{"private key", pipeline.Config{PublicKeyPEMs: [][]byte{privatePEM}, Replica: replica}, "private key"},
		{"broken PEM body", pipeline.Config{Replica: replica,
			PublicKeyPEMs: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})}}, "parse PEM block"},
		{"bad JWKS", pipeline.Config{JWKS: []byte(`{"keys":`), Replica: replica}, "parse JWKS"},
		{"JWKS without usable keys", pipeline.Config{JWKS: []byte(`{"keys":[]}`), Replica: replica}, "no usable"},
		{"JWKS alg against key type", pipeline.Config{Replica: replica,
			JWKS: []byte(`{"keys":[` + ecJWK("x", "RS256", k.ec256) + `]}`)}, "does not fit"},
		{"alg none", pipeline.Config{HMACSecret: k.hmac, Algorithms: []string{"none"}, Replica: replica}, `"none" is never allowed`},
		{"alg unknown", pipeline.Config{HMACSecret: k.hmac, Algorithms: []string{"hs256"}, Replica: replica}, "unknown"},
		{"alg without key", pipeline.Config{HMACSecret: k.hmac, Algorithms: []string{"RS256"}, Replica: replica}, "not supported by any configured key"},
		{"negative leeway", pipeline.Config{HMACSecret: k.hmac, Leeway: -1, Replica: replica}, "leeway"},
		{"negative max token bytes", pipeline.Config{HMACSecret: k.hmac, MaxTokenBytes: -1, Replica: replica}, "max token bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pipeline.New(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatalf("New succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestParsePublicKeyPEM reads several blocks: PKIX, PKCS #1 and a
// certificate, and the keys verify tokens.
func TestParsePublicKeyPEM(t *testing.T) {
	k := keys()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.ed.Public(), k.ed)
	if err != nil {
		t.Fatal(err)
	}
	data := slices.Concat(
		pemOf(t, k.ec256.Public()),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}),
	)
	got, err := pipeline.ParsePublicKeyPEM(data)
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d keys, want 3", len(got))
	}
	f := newFixture(t, pipeline.Config{PublicKeyPEMs: [][]byte{data}})
	for _, tok := range []string{
		mint(t, jwt.SigningMethodES256, k.ec256, baseClaims(), nil),
		mint(t, jwt.SigningMethodPS384, k.rsa, baseClaims(), nil),
		mint(t, jwt.SigningMethodEdDSA, k.ed, baseClaims(), nil),
	} {
		if r := f.p.Validate(tok); !r.Active() {
			t.Errorf("token signed with a key from the PEM file: reason %q, want active", r.Reason)
		}
	}
}
