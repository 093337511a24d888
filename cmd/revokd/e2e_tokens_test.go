package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/internal/pgtest"
)

// writeECKey writes a new P-256 private key (PKCS #8 PEM) to path, and its
// public key to path+".pub".
func writeECKey(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kidOf is a token's kid.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// verifyWithJWKS verifies token with go-jose against the key of its kid in
// the daemon's /v1/jwks.
func verifyWithJWKS(t *testing.T, socket, token string) error {
	t.Helper()
	code, _, body := httpDo(t, unixHTTPClient(t, socket), "GET", "/v1/jwks", "")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); code != 200 || err != nil {
		t.Fatalf("GET /v1/jwks: %d %s (%v)", code, body, err)
	}
	keys := set.Key(kidOf(t, token))
	if len(keys) != 1 {
		return fmt.Errorf("the set holds %d keys of kid %q: %s", len(keys), kidOf(t, token), body)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return err
	}
	_, err = jws.Verify(keys[0])
	return err
}

// The rotation recipe of docs/keys.md, end to end: the old public key
// moves to --public-key, a new private key to --signing-key, SIGHUP. New
// tokens carry the new kid; the old key's tokens stay valid and refresh
// into new-key tokens of the same session; /v1/jwks publishes both keys,
// and each token verifies with go-jose against it. Dropping the old key
// (another SIGHUP) ends its tokens.
func TestE2ESigningKeyRotation(t *testing.T) {
	dir := shortDir(t)
	signing, previous := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "previous.pem")
	writeECKey(t, signing)
	if err := os.Rename(signing+".pub", previous); err != nil { // no previous key yet: the current one's
		t.Fatal(err)
	}
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"),
		"--signing-key", signing, "--public-key", previous)
	c := &client.Client{Socket: d.socket}
	defer c.Close()
	ctx := context.Background()
	old, err := c.Issue(ctx, apitype.IssueRequest{Sub: "901"})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyWithJWKS(t, d.socket, old.Token); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	// Rotate: previous.pem holds the current key's public half already; a
	// new key signs.
	writeECKey(t, signing)
	hup := func(n int) {
		t.Helper()
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("reload %d", n), func() bool { return strings.Count(d.stderr.String(), "keys reloaded") == n })
	}
	hup(1)
	fresh, err := c.Issue(ctx, apitype.IssueRequest{Sub: "902"})
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, fresh.Token) == kidOf(t, old.Token) {
		t.Errorf("after rotation: new tokens carry the old kid %q", kidOf(t, old.Token))
	}
	wantReasons(t, d.socket, map[string]string{old.Token: "", fresh.Token: ""})
	for name, tok := range map[string]string{"old": old.Token, "new": fresh.Token} {
		if err := verifyWithJWKS(t, d.socket, tok); err != nil {
			t.Errorf("%s key's token against /v1/jwks: %v", name, err)
		}
	}
	next, err := c.Refresh(ctx, old.Token)
	if err != nil || next.Reason != "" {
		t.Fatalf("refresh of the old key's token: %+v, %v", next, err)
	}
	if kidOf(t, next.Token) != kidOf(t, fresh.Token) || next.SID != old.SID {
		t.Errorf("refreshed: kid %q sid %q, want the new kid %q and the session %q", kidOf(t, next.Token), next.SID, kidOf(t, fresh.Token), old.SID)
	}

	// Retire the old key: its tokens end.
	if err := os.WriteFile(previous, mustRead(t, signing+".pub"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup(2)
	wantReasons(t, d.socket, map[string]string{fresh.Token: "", next.Token: ""})
	if resp, err := c.Validate(ctx, old.Token); err != nil || resp.Reason != apitype.ReasonBadSignature {
		t.Errorf("the retired key's token: %+v, %v; want %s", resp, err, apitype.ReasonBadSignature)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One token refreshed on two daemons sharing PostgreSQL, many times at
// once: exactly one refresh gets a token; every other is reuse, refused
// with session_revoked, and the session ends on both daemons, the
// winner's new token with it.
func TestE2EPostgresRefreshRace(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	dir := shortDir(t)
	key := filepath.Join(dir, "signing.pem")
	writeECKey(t, key)
	flags := []string{"--database-url", url, "--signing-key", key}
	a := startDaemon(t, filepath.Join(dir, "a.sock"), filepath.Join(dir, "a"), append(flags, "--migrate")...)
	b := startDaemon(t, filepath.Join(dir, "b.sock"), filepath.Join(dir, "b"), flags...)
	ca, cb := &client.Client{Socket: a.socket}, &client.Client{Socket: b.socket}
	defer ca.Close()
	defer cb.Close()
	ctx := context.Background()
	tok, err := ca.Issue(ctx, apitype.IssueRequest{Sub: "903"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := cb.Issue(ctx, apitype.IssueRequest{Sub: "903"})
	if err != nil {
		t.Fatal(err)
	}

	const perDaemon = 4
	answers := make(chan apitype.RefreshResponse, 2*perDaemon)
	var wg sync.WaitGroup
	for _, c := range []*client.Client{ca, cb} {
		for range perDaemon {
			wg.Go(func() {
				resp, err := c.Refresh(ctx, tok.Token)
				if err != nil {
					t.Errorf("refresh: %v", err)
				}
				answers <- resp
			})
		}
	}
	wg.Wait()
	close(answers)
	var won []apitype.RefreshResponse
	reasons := map[string]int{}
	for r := range answers {
		if r.Token != "" {
			won = append(won, r)
		} else {
			reasons[r.Reason]++
		}
	}
	if len(won) != 1 || reasons[apitype.ReasonSessionRevoked] != 2*perDaemon-1 {
		t.Fatalf("%d refreshes of one token: %d got a token, the rest %v; want one, and %d session_revoked", 2*perDaemon, len(won), reasons, 2*perDaemon-1)
	}
	if !a.stderr.Contains("session revoked") && !b.stderr.Contains("session revoked") {
		t.Errorf("neither daemon logged the reuse:\n%s\n%s", a.stderr, b.stderr)
	}
	for _, d := range []*proc{a, b} {
		c := &client.Client{Socket: d.socket}
		defer c.Close()
		waitFor(t, "the session's end to reach "+d.socket, func() bool {
			resp, err := c.Validate(ctx, won[0].Token)
			return err == nil && resp.Reason == apitype.ReasonSessionRevoked
		})
		wantReasons(t, d.socket, map[string]string{other.Token: ""})
	}
}
