package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/internal/testwait"
)

// TestE2EReloadOnSIGHUP rotates the HMAC secret file under a running
// daemon, then breaks it, sending SIGHUP each time: the new secret takes
// over at once, the broken file keeps it, both outcomes are logged and
// counted, and a connection opened before either reload still answers.
func TestE2EReloadOnSIGHUP(t *testing.T) {
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	hc := unixHTTPClient(t, d.socket)
	secretFile := filepath.Join(dir, "hs256.secret") // startDaemon's
	oldTok := mint(t, jwt.MapClaims{"sub": "301", "jti": "reload-old"})
	newSecret := []byte("a-rotated-secret-for-the-reload-test-0123456789")
	newTok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "302", "jti": "reload-new", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(newSecret)
	if err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(testwait.Deadline(t))
	r := bufio.NewReader(conn)
	validate := func(tok, want string) {
		t.Helper()
		fmt.Fprintf(conn, `{"op":"validate","token":%q}`+"\n", tok)
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("NDJSON answer: %v", err)
		}
		if !strings.Contains(got, want) {
			t.Errorf("validate on the connection opened before the reloads = %s, want it to contain %s", strings.TrimSpace(got), want)
		}
	}
	validate(oldTok, `"active":true`)

	metric := func(result string) string {
		_, _, body := httpDo(t, hc, "GET", "/metrics", "")
		for line := range strings.Lines(body) {
			if name := fmt.Sprintf(`revokd_reloads_total{result=%q} `, result); strings.HasPrefix(line, name) {
				return strings.TrimSpace(strings.TrimPrefix(line, name))
			}
		}
		return ""
	}
	hup := func() {
		t.Helper()
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatalf("SIGHUP: %v", err)
		}
	}

	// Rotate: the old secret's token is refused at once, cached or not.
	if err := os.WriteFile(secretFile, newSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	waitFor(t, `revokd_reloads_total{result="ok"} 1`, func() bool { return metric("ok") == "1" })
	if !d.stderr.Contains("keys reloaded") {
		t.Errorf("no log line for the reload:\n%s", d.stderr)
	}
	validate(newTok, `"active":true`)
	validate(oldTok, `"reason":"bad_signature"`)

	// Break it: the rotated secret stays, the error is logged and counted.
	if err := os.WriteFile(secretFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	waitFor(t, `revokd_reloads_total{result="error"} 1`, func() bool { return metric("error") == "1" })
	if !d.stderr.Contains("reload failed") || !d.stderr.Contains("is empty") {
		t.Errorf("the failed reload is not logged with its cause:\n%s", d.stderr)
	}
	validate(newTok, `"active":true`)
	validate(oldTok, `"reason":"bad_signature"`)
	if got := metric("ok"); got != "1" {
		t.Errorf(`revokd_reloads_total{result="ok"} = %q after the failed reload, want 1`, got)
	}
}
