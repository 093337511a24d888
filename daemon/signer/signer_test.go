package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/revokd/revokd/daemon/pipeline"
)

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseKey(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	pub, _ := x509.MarshalPKIXPublicKey(ec.Public())
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := Thumbprint(ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		alg, kid string
		wantAlg  string
		wantKid  string
		wantErr  string
	}{
		{name: "SEC 1 EC key, default alg and kid", data: pemOf(t, "EC PRIVATE KEY", sec1), wantAlg: "ES384", wantKid: tp},
		{name: "PKCS 8 EC key, kid given", data: pemOf(t, "PRIVATE KEY", pkcs8), kid: "k1", wantAlg: "ES384", wantKid: "k1"},
		{name: "EC key, alg of another curve", data: pemOf(t, "PRIVATE KEY", pkcs8), alg: "ES256", wantErr: "does not fit"},
		{name: "public key", data: pemOf(t, "PUBLIC KEY", pub), wantErr: "not a private key"},
		{name: "small RSA key", data: pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), wantErr: "too small"},
		{name: "not PEM", data: []byte("secret"), wantErr: "--signing-alg HS256"},
		{name: "HMAC secret", data: []byte(strings.Repeat("x", 48)), alg: "HS384", wantAlg: "HS384"},
		{name: "HMAC secret too short", data: []byte(strings.Repeat("x", 31)), alg: "HS256", wantErr: "at least 32 bytes"},
		{name: "PEM key as HMAC secret", data: pemOf(t, "PRIVATE KEY", pkcs8), alg: "HS256", wantErr: "holds a PEM key"},
		{name: "unknown HMAC alg", data: []byte(strings.Repeat("x", 64)), alg: "HS1024", wantErr: "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.data, tc.alg, tc.kid)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg() != tc.wantAlg || k.KID() != tc.wantKid {
				t.Errorf("alg %q kid %q, want %q %q", k.Alg(), k.KID(), tc.wantAlg, tc.wantKid)
			}
		})
	}
}

func TestNumericDate(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1700000000, 0), "1700000000"},
		{time.Unix(1700000000, 123456789), "1700000000.123456"},
		{time.Unix(1700000000, 5000), "1700000000.000005"},
		{time.Unix(1700000000, 100000000), "1700000000.1"},
	}
	for _, tc := range tests {
		if got := string(numericDate(tc.t)); got != tc.want {
			t.Errorf("numericDate(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

// The published set holds no private member and no secret, and the
// signing key once even when it is also a --public-key.
func TestJWKSIsPublic(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	k, err := ParseKey(pemOf(t, "PRIVATE KEY", pkcs8), "", "")
	if err != nil {
		t.Fatal(err)
	}
	file := `{"keys":[{"kty":"oct","kid":"old-hs","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},` +
		`{"kty":"EC","kid":"old-ec","crv":"P-256","x":"` + jwkMember(t, ec, "x") + `","y":"` + jwkMember(t, ec, "y") + `","d":"` + jwkMember(t, ec, "d") + `"}]}`
	m := pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{k.pemPub}, JWKS: []byte(file), HMACSecret: []byte("hmac")}
	b, err := JWKS(m, k)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, private := range []string{`"d"`, `"k"`, "old-hs"} {
		if strings.Contains(s, private) {
			t.Errorf("published set %s holds %s", s, private)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].KeyID != k.KID() || set.Keys[1].KeyID != "old-ec" {
		t.Errorf("published set %s, want 2 keys: the signing key, and the file's EC key under its kid", s)
	}
	for _, key := range set.Keys {
		if !key.IsPublic() {
			t.Errorf("published key %q is not public", key.KeyID)
		}
	}
}

func jwkMember(t *testing.T, ec *ecdsa.PrivateKey, member string) string {
	t.Helper()
	b, err := (&jose.JSONWebKey{Key: ec}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, `"`+member+`":"`)
	rest := s[i+len(member)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}
