package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzIssuersFile: whatever an issuers file holds, parsing it never
// panics, and it either fails with an error or yields one issuer per
// entry, each with a name and exactly one source of keys.
func FuzzIssuersFile(f *testing.F) {
	for _, seed := range []string{
		`{"issuers":[{"issuer":"https://a.example","oidc_discovery":true}]}`,
		`{"issuers":[{"issuer":"https://a.example","jwks_url":"https://a.example/jwks","audiences":["api"],"algorithms":["RS256"]}]}`,
		`{"issuers":[{"issuer":"a","jwks_file":"k.jwks"},{"issuer":"b","public_keys":["k.pem"],"subject_claim":"user_id"}]}`,
		`{"issuers":[{"issuer":"a","public_keys":["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]}]}`,
		`{"issuers":[{"issuer":"a","jwks_file":"../../etc/passwd"}]}`,
		`{"issuers":[{"issuer":"a","oidc_discovery":true,"jwks_url":"https://a.example/k"}]}`,
		`{"issuers":null}`, `{"issuers":[null]}`, `[]`, `null`, ``, `{"issuers":[{"issuer":"a#b","jwks_file":"k.jwks"}]}`,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	jwks := `{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","alg":"HS256"}]}`
	if err := os.WriteFile(filepath.Join(dir, "k.jwks"), []byte(jwks), 0o600); err != nil {
		f.Fatal(err)
	}
	fetch := (&serveOptions{}).fetchConfig
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := parseIssuers(data, dir, fetch)
		if err != nil {
			return
		}
		if len(list) == 0 {
			t.Fatalf("no error and no issuer from %q", data)
		}
		for _, is := range list {
			m := is.Keys
			sources := btoi(is.Fetch != nil) + btoi(len(m.JWKS) > 0) + btoi(len(m.PublicKeyPEMs) > 0)
			if is.Issuer.Issuer == "" || sources != 1 || len(m.HMACSecret) > 0 {
				t.Fatalf("issuer %+v from %q: want a name and exactly one source of keys", is, data)
			}
		}
	})
}
