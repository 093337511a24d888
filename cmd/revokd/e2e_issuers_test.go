package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/internal/testwait"
)

// twoIssuers is a directory with an issuers file trusting A (an EC key in
// a PEM file) and B (an RSA key in a JWKS file), and their private keys.
type twoIssuers struct {
	dir, file string
	a         *ecdsa.PrivateKey
	b         *rsa.PrivateKey
	c         ed25519.PrivateKey // trusted only once the file is rewritten
}

const (
	issuerA = "https://a.example"
	issuerB = "https://b.example"
	issuerC = "https://c.example"
)

func newTwoIssuers(t *testing.T, dir string) *twoIssuers {
	t.Helper()
	ti := &twoIssuers{dir: dir, file: filepath.Join(dir, "issuers.json")}
	var err error
	if ti.a, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if ti.b, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if _, ti.c, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.pem"), publicPEM(t, ti.a.Public()), 0o600); err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ti.b.Public(), KeyID: "b1", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.jwks"), jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	ti.write(t, fmt.Sprintf(`{"issuers": [
		{"issuer": %q, "public_keys": ["a.pem"], "audiences": ["api", "other"]},
		{"issuer": %q, "jwks_file": %q, "algorithms": ["RS256"]}
	]}`, issuerA, issuerB, filepath.Join(dir, "b.jwks"))) // a relative name and an absolute one
	return ti
}

func (ti *twoIssuers) write(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(ti.file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func publicPEM(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// token signs a token of iss for sub and sid with key, by method.
func issuerToken(t *testing.T, method jwt.SigningMethod, key any, kid, iss, sub, sid string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(method, jwt.MapClaims{
		"iss": iss, "sub": sub, "sid": sid, "aud": "api",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestE2EIssuersFile runs the binary with two issuers that both have a
// subject 42: each token is verified with its own issuer's keys only, a
// cutoff scoped to one issuer (CLI --iss, NDJSON "iss") leaves the other's
// subject alone, one without iss reaches both, and SIGHUP reloads the
// file: an added issuer is trusted, a removed one is not, and a broken
// file keeps the issuers in use.
func TestE2EIssuersFile(t *testing.T) {
	dir := shortDir(t)
	ti := newTwoIssuers(t, dir)
	socket := filepath.Join(dir, "s.sock")
	d := startProc(t, socket, nil, "serve", "--socket", socket, "--data-dir", filepath.Join(dir, "data"),
		"--issuers-file", ti.file, "--log-format", "json")
	d.waitReady(t)
	hc := unixHTTPClient(t, socket)
	validate := func(tok string) string {
		t.Helper()
		_, _, body := httpDo(t, hc, "POST", "/v1/validate", fmt.Sprintf(`{"token":%q}`, tok))
		return body
	}
	expect := func(what, tok, want string) {
		t.Helper()
		if got := validate(tok); !strings.Contains(got, want) {
			t.Errorf("%s: validate = %s, want it to contain %s", what, strings.TrimSpace(got), want)
		}
	}

	a := issuerToken(t, jwt.SigningMethodES256, ti.a, "", issuerA, "42", "sa")
	b := issuerToken(t, jwt.SigningMethodRS256, ti.b, "b1", issuerB, "42", "sb")
	expect("A's token", a, `"active":true`)
	expect("B's token", b, `"active":true`)
	expect("B's claims signed with A's key", issuerToken(t, jwt.SigningMethodES256, ti.a, "", issuerB, "42", "sb"), `"reason":"unsupported_alg"`)
	expect("an unknown issuer", issuerToken(t, jwt.SigningMethodES256, ti.a, "", issuerC, "42", "sa"), `"reason":"bad_issuer"`)

	// A cutoff on subject 42 at A only, by the CLI.
	if code, out, errOut := runCLI(t, "revoke-all", "--socket", socket, "--sub", "42", "--iss", issuerA); code != exitOK {
		t.Fatalf("revoke-all --iss: exit %d\n%s%s", code, out, errOut)
	} else if !strings.Contains(out, `"iss":"`+issuerA+`"`) {
		t.Errorf("revoke-all --iss printed %s, want the issuer echoed", out)
	}
	expect("A's token after a cutoff at A", a, `"reason":"subject_revoked"`)
	expect("B's token after a cutoff at A", b, `"active":true`)
	code, _, errOut := runCLI(t, "revoke-all", "--socket", socket, "--sub", "42", "--iss", issuerC)
	if code == exitOK || !strings.Contains(errOut, "not a trusted issuer") {
		t.Errorf("revoke-all --iss for an untrusted issuer: exit %d, stderr %q; want a failure that says so", code, errOut)
	}

	// A session cutoff at B over NDJSON, then a cutoff without iss.
	nd := dialLines(t, socket)
	if got := nd(`{"op":"revoke-all","claim":"sid","value":"sb","iss":"` + issuerB + `"}`); !strings.Contains(got, `"iss":"`+issuerB+`"`) {
		t.Errorf("NDJSON revoke-all with iss = %s", got)
	}
	expect("B's token after its session's cutoff", b, `"reason":"session_revoked"`)
	b2 := issuerToken(t, jwt.SigningMethodRS256, ti.b, "b1", issuerB, "43", "sb2")
	expect("another B subject", b2, `"active":true`)
	if got := nd(`{"op":"revoke-all","sub":"43"}`); !strings.Contains(got, `"before"`) {
		t.Errorf("NDJSON revoke-all without iss = %s", got)
	}
	expect("B's subject 43 after a cutoff at every issuer", b2, `"reason":"subject_revoked"`)

	// SIGHUP: C added (inline PEM), A removed.
	cPEM, err := json.Marshal(string(publicPEM(t, ti.c.Public())))
	if err != nil {
		t.Fatal(err)
	}
	ti.write(t, fmt.Sprintf(`{"issuers": [
		{"issuer": %q, "jwks_file": "b.jwks"},
		{"issuer": %q, "public_keys": [%s], "subject_claim": "user_id"}
	]}`, issuerB, issuerC, cPEM))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the issuers file to be reloaded", func() bool { return d.stderr.Contains("issuers and their keys reloaded") })
	expect("A's token once A is no longer trusted", a, `"reason":"bad_issuer"`)
	c, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": issuerC, "user_id": "42", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(ti.c)
	if err != nil {
		t.Fatal(err)
	}
	expect("C's token, its subject in user_id", c, `"sub":"42"`)
	expect("C's token", c, `"active":true`)

	// A broken file keeps B and C.
	ti.write(t, `{"issuers": [{"issuer": "https://d.example", "jwks_url": "http://example.com/jwks"}]}`)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broken issuers file to be refused", func() bool { return d.stderr.Contains("reload failed") })
	if !d.stderr.Contains("jwks_url") {
		t.Errorf("the refused reload does not say which entry is wrong:\n%s", d.stderr)
	}
	expect("C's token after a broken reload", c, `"active":true`)
}

// dialLines opens an NDJSON connection to socket and returns a function
// that sends one line and returns the answer.
func dialLines(t *testing.T, socket string) func(string) string {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(testwait.Deadline(t))
	r := bufio.NewReader(conn)
	return func(line string) string {
		t.Helper()
		if _, err := fmt.Fprintln(conn, line); err != nil {
			t.Fatalf("send %s: %v", line, err)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("answer to %s: %v", line, err)
		}
		return got
	}
}

// TestIssuersFileErrors: each mistake in an issuers file is refused at
// start with a message that names the entry and what is wrong.
func TestIssuersFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	fetch := (&serveOptions{}).fetchConfig
	for _, tc := range []struct{ name, file, want string }{
		{"not JSON", `{`, "parse"},
		{"unknown member", `{"issuers":[{"issuer":"a","jwks_file":"x","audience":"api"}]}`, `unknown field "audience"`},
		{"no issuers", `{"issuers":[]}`, "no issuers"},
		{"trailing data", `{"issuers":[{"issuer":"a","jwks_url":"https://a.example/k"}]} {}`, "after the JSON object"},
		{"no issuer", `{"issuers":[{"jwks_url":"https://a.example/k"}]}`, `"issuer" is required`},
		{"no key source", `{"issuers":[{"issuer":"a"}]}`, "exactly one of"},
		{"two key sources", `{"issuers":[{"issuer":"a","jwks_url":"https://a.example/k","jwks_file":"x"}]}`, "exactly one of"},
		{"plain http", `{"issuers":[{"issuer":"a","jwks_url":"http://a.example/k"}]}`, "jwks_url"},
		{"discovery over plain http", `{"issuers":[{"issuer":"http://a.example","oidc_discovery":true}]}`, "oidc_discovery"},
		{"missing JWKS file", `{"issuers":[{"issuer":"a","jwks_file":"missing.jwks"}]}`, "missing.jwks"},
		{"bad PEM", `{"issuers":[{"issuer":"a","public_keys":["k.pem"]}]}`, "public_keys k.pem"},
		{"second entry wrong", `{"issuers":[{"issuer":"a","jwks_url":"https://a.example/k"},{"issuer":"b"}]}`, `issuer 2 ("b")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseIssuers([]byte(tc.file), dir, fetch)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseIssuers(%s) = %v, want an error containing %q", tc.file, err, tc.want)
			}
		})
	}
}

// TestServeIssuersFileFlags: --issuers-file excludes the one-issuer
// flags, and a daemon with one refuses a file whose issuers clash.
func TestServeIssuersFileFlags(t *testing.T) {
	dir := shortDir(t)
	ti := newTwoIssuers(t, dir)
	code, _, errOut := runCLI(t, "serve", "--socket", filepath.Join(dir, "s.sock"), "--issuers-file", ti.file, "--issuer", issuerA)
	if code != exitUsage || !strings.Contains(errOut, "--issuers-file gives every issuer") {
		t.Errorf("--issuers-file with --issuer: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "serve", "--socket", filepath.Join(dir, "s.sock"), "--issuers-file", ti.file, "--signing-key", filepath.Join(dir, "a.pem"))
	if code != exitUsage || !strings.Contains(errOut, "needs --signing-issuer") {
		t.Errorf("--issuers-file with --signing-key and no --signing-issuer: exit %d, stderr %q", code, errOut)
	}
	ti.write(t, `{"issuers":[{"issuer":"https://a.example","public_keys":["a.pem"]},{"issuer":"https://a.example","jwks_file":"b.jwks"}]}`)
	code, _, errOut = runCLI(t, "serve", "--socket", filepath.Join(dir, "s.sock"), "--data-dir", filepath.Join(dir, "data"), "--issuers-file", ti.file)
	if code != exitUsage || !strings.Contains(errOut, "given twice") {
		t.Errorf("an issuer given twice: exit %d, stderr %q", code, errOut)
	}
}
