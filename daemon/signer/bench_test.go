package signer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

// BenchmarkIssue mints a token per iteration with each kind of key: the
// signing work of POST /v1/issue, without the validation that follows it.
func BenchmarkIssue(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			b.Fatal(err)
		}
		return der
	}
	for _, tc := range []struct {
		alg  string
		data []byte
	}{
		{"HS256", []byte(strings.Repeat("s", 32))},
		{"RS256", pemOf(b, "PRIVATE KEY", pkcs8(rsaKey))},
		{"ES256", pemOf(b, "PRIVATE KEY", pkcs8(ecKey))},
		{"EdDSA", pemOf(b, "PRIVATE KEY", pkcs8(edKey))},
	} {
		b.Run(tc.alg, func(b *testing.B) {
			k, err := ParseKey(tc.data, tc.alg, "")
			if err != nil {
				b.Fatal(err)
			}
			s := New(Settings{TTL: 15 * time.Minute}, k)
			now := time.Now()
			for b.Loop() {
				if _, err := s.Issue("42", nil, 0, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
