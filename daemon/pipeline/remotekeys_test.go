package pipeline

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestCheckKeysURL(t *testing.T) {
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"https", "https://id.example.com/jwks", true},
		{"http to 127.0.0.1", "http://127.0.0.1:8080/jwks", true},
		{"http to 127.1.2.3", "http://127.1.2.3/jwks", true},
		{"http to ::1", "http://[::1]:8080/jwks", true},
		{"http to localhost", "http://localhost/jwks", true},
		{"http to a name", "http://id.example.com/jwks", false},
		{"http to a private address", "http://10.0.0.1/jwks", false},
		{"http to a name starting with localhost", "http://localhost.example.com/jwks", false},
		{"another scheme", "ftp://id.example.com/jwks", false},
		{"no host", "https:///jwks", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeysURL(tc.url)
			if (err == nil) != tc.ok {
				t.Errorf("CheckKeysURL(%q): got %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}

// TestParseRemoteJWKSSkipsUnusableKeys: a fetched set keeps the keys
// revokd verifies with and leaves out, with the reason, each it cannot
// use (RFC 7517 §5), instead of failing the whole set; encryption and
// symmetric keys are left out silently. A set of nothing usable fails.
func TestParseRemoteJWKSSkipsUnusableKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(k jose.JSONWebKey) string {
		b, err := k.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	x := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	good := jwk(jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "good", Algorithm: "ES256", Use: "sig"})
	unusable := []string{
		`{"kty":"OKP","crv":"X25519","kid":"x25519","x":"` + x + `"}`,
		`{"kty":"XYZ","kid":"unknown-kty"}`,
		`{"kty":"EC","crv":"secp256k1","kid":"k1","x":"` + x + `","y":"` + x + `"}`,
		jwk(jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "contradiction", Algorithm: "ES256"}),
	}
	silent := []string{
		jwk(jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "enc", Use: "enc"}),
		`{"kty":"oct","kid":"secret","k":"` + x + `"}`,
	}
	set := `{"keys":[` + strings.Join(append(append([]string{good}, unusable...), silent...), ",") + `]}`
	keys, skipped, err := parseRemoteJWKS(context.Background(), []byte(set))
	if err != nil {
		t.Fatalf("parseRemoteJWKS: %v", err)
	}
	if len(keys) != 1 || keys[0].kid != "good" {
		t.Errorf("keys kept: %d, want the one usable key", len(keys))
	}
	if len(skipped) != len(unusable) {
		t.Errorf("skipped %d keys, want %d:\n%s", len(skipped), len(unusable), strings.Join(skipped, "\n"))
	}
	if _, _, err := parseRemoteJWKS(context.Background(), []byte(`{"keys":[`+strings.Join(unusable, ",")+`]}`)); err == nil || !strings.Contains(err.Error(), "no usable") {
		t.Errorf("a set of unusable keys: %v, want an error", err)
	}
}
