package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestEnsureSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), devSecretFile)
	if err := ensureSecret(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if _, err := hex.DecodeString(string(first)); err != nil || len(first) != 64 {
		t.Errorf("secret = %q, want 64 hex characters", first)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %#o, want 0600", fi.Mode().Perm())
	}
	if err := ensureSecret(path); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("a second call replaced the secret; it must be kept across runs")
	}
}

// The sample token follows the daemon's claim settings, so it validates
// whatever --subject-claim, --session-start-claim, --issuer and --audience say.
func TestSampleTokenFollowsSettings(t *testing.T) {
	o := &serveOptions{subjectClaim: "id", sessionStartClaim: "login_at", issuer: "https://id.example", audience: "api"}
	d := &devMode{secret: []byte("k"), opts: o}
	now := time.Unix(1800000000, 0)
	tok, err := d.sampleToken(now)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte("k"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithIssuer("https://id.example"), jwt.WithAudience("api"))
	if err != nil {
		t.Fatalf("parse sample token: %v", err)
	}
	checks := []struct {
		claim string
		want  any
	}{
		{"id", "dev-user"},
		{"login_at", float64(1800000000)},
		{"iat", float64(1800000000)},
		{"exp", float64(1800003600)},
	}
	for _, c := range checks {
		if got := claims[c.claim]; got != c.want {
			t.Errorf("claim %s = %v, want %v", c.claim, got, c.want)
		}
	}
	for _, c := range []string{"sid", "jti"} {
		if s, _ := claims[c].(string); s == "" {
			t.Errorf("claim %s missing", c)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/run/revokd/revokd.sock", "/run/revokd/revokd.sock"},
		{"/tmp/my dir/s.sock", "'/tmp/my dir/s.sock'"},
		{"/tmp/it's/s.sock", `'/tmp/it'\''s/s.sock'`},
		{"", "''"},
	}
	for _, tc := range tests {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
