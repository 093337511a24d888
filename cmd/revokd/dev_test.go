package main

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// The welcome text's commands run this build from the user's shell: plain
// "revokd" only when that finds this binary, "go run ./cmd/revokd" after a
// go run, else the binary's path.
func TestCLICommand(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	installed := mk("gopath/bin/revokd")
	other := mk("other/revokd")
	goRun := mk("go-build123456/b001/exe/revokd")
	built := mk("repo/bin/revokd")
	linkDir := filepath.Join(dir, "links")
	os.Mkdir(linkDir, 0o755)
	if err := os.Symlink(installed, filepath.Join(linkDir, "revokd")); err != nil {
		t.Fatal(err)
	}
	found := func(p string) func(string) (string, error) {
		return func(string) (string, error) { return p, nil }
	}
	notFound := func(string) (string, error) { return "", exec.ErrNotFound }

	tests := []struct {
		name     string
		exe      string
		lookPath func(string) (string, error)
		want     string
		wantNote string
	}{
		{"installed, run from PATH", installed, found(installed), "revokd", ""},
		{"installed, PATH holds a symlink to it", installed, found(filepath.Join(linkDir, "revokd")), "revokd", ""},
		{"go run, nothing on PATH", goRun, notFound, "go run ./cmd/revokd", "go install ./cmd/revokd"},
		{"go run, an older build on PATH", goRun, found(other), "go run ./cmd/revokd", "make build"},
		{"bin/revokd run by its path", built, notFound, built, "by its path"},
		{"bin/revokd with another on PATH", built, found(other), built, "not this build"},
		{"executable unknown", "", found(other), "go run ./cmd/revokd", "go run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, note := cliCommand(tc.exe, tc.lookPath)
			if got != tc.want {
				t.Errorf("cli = %q, want %q", got, tc.want)
			}
			if tc.wantNote == "" && note != "" || !strings.Contains(note, tc.wantNote) {
				t.Errorf("note = %q, want it to contain %q", note, tc.wantNote)
			}
		})
	}
}

// serve --dev with a HOME that is set but unusable falls back to the temp
// directory, as serve's help promises, instead of exiting.
func TestDevDirWithoutUsableHome(t *testing.T) {
	base := t.TempDir()
	aFile := filepath.Join(base, "home-is-a-file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, home string }{
		{"HOME is a file", aFile},
		{"HOME under a read-only place", "/proc/revokd-no-such-home"},
		{"HOME unset", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("HOME", tc.home)
			t.Setenv("XDG_STATE_HOME", "")
			t.Setenv("TMPDIR", tmp)
			var logBuf strings.Builder
			o := &serveOptions{socket: filepath.Join(tmp, "s.sock"), subjectClaim: "sub", sessionStartClaim: "orig_iat"}
			d, err := setUpDev(o, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatalf("setUpDev: %v; want the temp directory", err)
			}
			want := filepath.Join(tmp, fmt.Sprintf("revokd-dev-%d", os.Getuid()))
			if d.dir != want || o.dataDir != want {
				t.Errorf("dev dir = %s (data dir %s), want %s", d.dir, o.dataDir, want)
			}
			if _, err := os.Stat(filepath.Join(want, devSecretFile)); err != nil {
				t.Errorf("dev key: %v", err)
			}
			if !strings.Contains(logBuf.String(), "using the temp directory") {
				t.Errorf("log does not say it fell back:\n%s", logBuf.String())
			}
		})
	}
}

// The fallback in the shared temp directory refuses a path someone else
// put there.
func TestDevDirRefusesPlantedTempDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("HOME", "/proc/revokd-no-such-home")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("TMPDIR", tmp)
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(tmp, fmt.Sprintf("revokd-dev-%d", os.Getuid()))); err != nil {
		t.Fatal(err)
	}
	o := &serveOptions{socket: filepath.Join(tmp, "s.sock"), subjectClaim: "sub", sessionStartClaim: "orig_iat"}
	_, err := setUpDev(o, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "not a directory owned by") {
		t.Errorf("setUpDev through a symlink in the temp directory: err = %v, want a refusal", err)
	}
}
