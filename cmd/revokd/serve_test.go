package main

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestServeFlagDefaults(t *testing.T) {
	var o serveOptions
	var stdout, stderr bytes.Buffer
	if _, code, done := parseServe(&o, []string{"--hmac-secret-file", "k"}, &stdout, &stderr); done {
		t.Fatalf("parse exited %d: %s", code, stderr.String())
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"socket-mode", uint32(o.socketMode), uint32(0o660)},
		{"leeway", o.leeway, 30 * time.Second},
		{"max-token-bytes", o.maxTokenBytes, 8192},
		{"token-cache-mb", o.tokenCacheMB, 64},
		{"subject-claim", o.subjectClaim, "sub"},
		{"session-start-claim", o.sessionStartClaim, "orig_iat"},
		{"cutoff-claims", o.cutoffClaims.list.String(), "sub,sid"},
		{"heartbeat", o.heartbeat, 5 * time.Second},
		{"prune-interval", o.pruneInterval, 10 * time.Minute},
		{"stale-after", o.staleAfter, time.Duration(0)},
		{"max-session-age", o.maxSessionAge, time.Duration(0)},
		{"log-level", o.logLevel.value, "info"},
		{"log-format", o.logFormat.value, "text"},
		{"require-jti", o.requireJTI, false},
		{"max-connections", o.maxConns, 1024},
		{"max-connections-per-uid", o.maxConnsPerUID, 0}, // the daemon takes half the cap
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestServeFlagsFromEnvironment(t *testing.T) {
	t.Setenv("REVOKD_LEEWAY", "5s")
	t.Setenv("REVOKD_CUTOFF_CLAIMS", "sub,tenant")
	t.Setenv("REVOKD_SOCKET_MODE", "0600")
	t.Setenv("REVOKD_REQUIRE_JTI", "true")
	t.Setenv("REVOKD_SUBJECT_CLAIM", "id")
	t.Setenv("REVOKD_WRITE_UIDS", "0,1000")
	t.Setenv("REVOKD_MAX_SESSION_AGE", "168h")
	t.Setenv("REVOKD_HMAC_SECRET_FILE", "from-env")
	t.Setenv("REVOKD_MAX_CONNECTIONS", "64")
	t.Setenv("REVOKD_MAX_CONNECTIONS_PER_UID", "8")
	t.Setenv("REVOKD_REQUIRE_CLAIM", "token_type=access, aud_kind=first")
	var o serveOptions
	var stdout, stderr bytes.Buffer
	// A flag on the command line wins over its environment variable.
	if _, code, done := parseServe(&o, []string{"--subject-claim", "uid"}, &stdout, &stderr); done {
		t.Fatalf("parse exited %d: %s", code, stderr.String())
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"leeway", o.leeway, 5 * time.Second},
		{"cutoff-claims", o.cutoffClaims.list.String(), "sub,tenant"},
		{"socket-mode", uint32(o.socketMode), uint32(0o600)},
		{"require-jti", o.requireJTI, true},
		{"subject-claim", o.subjectClaim, "uid"},
		{"write-uids", o.writeUIDs.String(), "0,1000"},
		{"max-session-age", o.maxSessionAge, 168 * time.Hour},
		{"hmac-secret-file", o.hmacSecretFile, "from-env"},
		{"max-connections", o.maxConns, 64},
		{"max-connections-per-uid", o.maxConnsPerUID, 8},
		{"require-claim", o.requireClaims.String(), "aud_kind=first,token_type=access"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestServeRepeatableFlags(t *testing.T) {
	var o serveOptions
	var stdout, stderr bytes.Buffer
	args := []string{"--public-key", "a.pem", "--public-key", "b.pem,c.pem", "--algorithms", "RS256, ES256", "--cutoff-claims", "sid",
		"--require-claim", "token_type=access", "--require-claim", "iss_kind=a=b,n=1", "--require-claim", "token_type=access"}
	if _, code, done := parseServe(&o, args, &stdout, &stderr); done {
		t.Fatalf("parse exited %d: %s", code, stderr.String())
	}
	if want := []string{"a.pem", "b.pem", "c.pem"}; !slices.Equal(o.publicKeys, want) {
		t.Errorf("public keys = %q, want %q", o.publicKeys, want)
	}
	if want := []string{"RS256", "ES256"}; !slices.Equal(o.algorithms, want) {
		t.Errorf("algorithms = %q, want %q", o.algorithms, want)
	}
	if want := []string{"sid"}; !slices.Equal(o.cutoffClaims.list, want) {
		t.Errorf("cutoff claims = %q, want %q (the flag replaces the default)", o.cutoffClaims.list, want)
	}
	// A value may hold "=" (only the first one splits), and a repeat that
	// agrees is no conflict.
	if want := map[string]string{"token_type": "access", "iss_kind": "a=b", "n": "1"}; !maps.Equal(pipelineConfig(&o).RequireClaims, want) {
		t.Errorf("required claims = %v, want %v", pipelineConfig(&o).RequireClaims, want)
	}
}

func TestServeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir)
	badPEM := filepath.Join(dir, "bad.pem")
	os.WriteFile(badPEM, []byte("not a key"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no key", nil, "no verification key"},
		{"argument", []string{"--hmac-secret-file", secret, "extra"}, `unexpected argument "extra"`},
		{"bad socket mode", []string{"--hmac-secret-file", secret, "--socket-mode", "rw"}, "not an octal permission"},
		{"socket mode too wide", []string{"--hmac-secret-file", secret, "--socket-mode", "7777"}, "not an octal permission"},
		{"bad duration", []string{"--hmac-secret-file", secret, "--leeway", "soon"}, "invalid value"},
		{"negative leeway", []string{"--hmac-secret-file", secret, "--leeway", "-1s"}, "--leeway -1s is negative"},
		{"bad log level", []string{"--hmac-secret-file", secret, "--log-level", "loud"}, `"loud" is not one of debug, info, warn, error`},
		{"bad log format", []string{"--hmac-secret-file", secret, "--log-format", "xml"}, "not one of text, json"},
		{"bad uid", []string{"--hmac-secret-file", secret, "--write-uids", "root"}, `"root" is not a numeric id`},
		{"no connections", []string{"--hmac-secret-file", secret, "--max-connections", "0"}, "--max-connections must be positive"},
		{"share over the cap", []string{"--hmac-secret-file", secret, "--max-connections", "4", "--max-connections-per-uid", "5"}, "--max-connections-per-uid must be from 0"},
		{"negative share", []string{"--hmac-secret-file", secret, "--max-connections-per-uid", "-1"}, "--max-connections-per-uid must be from 0"},
		{"require-claim without value", []string{"--hmac-secret-file", secret, "--require-claim", "token_type"}, `"token_type" is not name=value`},
		{"require-claim without name", []string{"--hmac-secret-file", secret, "--require-claim", "=access"}, `"=access" is not name=value`},
		{"require-claim conflict", []string{"--hmac-secret-file", secret, "--require-claim", "token_type=access,token_type=refresh"}, "required twice"},
		{"migrate without database", []string{"--hmac-secret-file", secret, "--migrate"}, "--migrate needs --database-url"},
		{"missing key file", []string{"--hmac-secret-file", filepath.Join(dir, "absent")}, "--hmac-secret-file: open"},
		{"empty key file", []string{"--hmac-secret-file", empty}, "is empty"},
		{"unparsable public key", []string{"--public-key", badPEM, "--socket", filepath.Join(shortDir(t), "s")}, "--public-key " + badPEM},
		{"alg the keys cannot do", []string{"--hmac-secret-file", secret, "--algorithms", "RS256", "--socket", filepath.Join(shortDir(t), "s")}, "RS256"},
		{"alg none", []string{"--hmac-secret-file", secret, "--algorithms", "none", "--socket", filepath.Join(shortDir(t), "s")}, "none"},
		{"jwks over http to a remote host", []string{"--jwks-url", "http://id.example.com/jwks"}, "only over https://"},
		{"oidc issuer over http to a remote host", []string{"--oidc-issuer", "http://10.0.0.1"}, "only over https://"},
		{"jwks url and a key file", []string{"--jwks-url", "https://id.example.com/jwks", "--hmac-secret-file", secret}, "fetch every key"},
		{"jwks url and oidc issuer", []string{"--jwks-url", "https://id.example.com/jwks", "--oidc-issuer", "https://id.example.com"}, "not both"},
		{"issuer other than the oidc issuer", []string{"--oidc-issuer", "https://id.example.com", "--issuer", "https://other.example.com"}, "differs from --oidc-issuer"},
		{"back-channel logout without an issuer", []string{"--hmac-secret-file", secret, "--backchannel-client-id", "app"}, "--backchannel-client-id needs --issuer"},
		{"back-channel logout max age zero", []string{"--hmac-secret-file", secret, "--issuer", "https://id.example.com", "--backchannel-client-id", "app", "--backchannel-max-age", "0s"}, "--backchannel-max-age must be positive"},
		{"back-channel logout without a sid cutoff", []string{"--hmac-secret-file", secret, "--issuer", "https://id.example.com", "--backchannel-client-id", "app", "--cutoff-claims", "sub", "--socket", filepath.Join(shortDir(t), "s")}, "both must be cutoff claims"},
		{"signing alg without a signing key", []string{"--hmac-secret-file", secret, "--signing-alg", "ES256"}, "need --signing-key"},
		{"signing key with fetched keys", []string{"--jwks-url", "https://id.example.com/jwks", "--signing-key", badPEM}, "fetch every key"},
		{"token ttl zero", []string{"--signing-key", badPEM, "--token-ttl", "0s"}, "--token-ttl must be positive"},
		{"unparsable signing key", []string{"--signing-key", badPEM, "--socket", filepath.Join(shortDir(t), "s")}, "signing key: no PEM block"},
		{"missing signing key", []string{"--signing-key", filepath.Join(dir, "absent"), "--socket", filepath.Join(shortDir(t), "s")}, "--signing-key: open"},
		{"short HMAC signing key", []string{"--signing-key", empty, "--signing-alg", "HS256", "--socket", filepath.Join(shortDir(t), "s")}, "at least 32 bytes"},
		{"HMAC signing key and another secret", []string{"--hmac-secret-file", secret, "--signing-key", writeLongSecret(t, dir), "--signing-alg", "HS256", "--socket", filepath.Join(shortDir(t), "s")}, "differs from the HMAC secret file"},
		{"signing alg not allowed", []string{"--signing-key", writeLongSecret(t, dir), "--signing-alg", "HS512", "--algorithms", "HS256", "--socket", filepath.Join(shortDir(t), "s")}, "not among the allowed algorithms"},
		{"hmac alg with fetched keys", []string{"--jwks-url", "https://id.example.com/jwks", "--algorithms", "HS256", "--socket", filepath.Join(shortDir(t), "s")}, "shared secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"serve"}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantErr)
			}
		})
	}
}

// writeLongSecret writes a 64-byte secret other than testSecret.
func writeLongSecret(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "other.secret")
	if err := os.WriteFile(path, []byte(strings.Repeat("o", 64)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The daemon run in-process answers through the client commands, and stops
// cleanly, removing its socket, when its context ends (as on SIGTERM).
func TestServeInProcess(t *testing.T) {
	d := startInProcess(t)
	token := mint(t, jwt.MapClaims{"sub": "7", "jti": "serve-1"})
	if code, out, errOut := runCLI(t, "validate", "--socket", d.socket, token); code != exitOK {
		t.Fatalf("validate exit %d, want 0: %s %s", code, out, errOut)
	}
	waitFor(t, "the ready log line", func() bool { return d.stderr.Contains("msg=ready") })
	if code := d.stop(t); code != exitOK {
		t.Errorf("serve exit code = %d, want 0:\n%s", code, d.stderr)
	}
	if _, err := os.Lstat(d.socket); !os.IsNotExist(err) {
		t.Errorf("socket still there after stop (lstat err %v)", err)
	}
}

func TestServeSecondDaemonRefused(t *testing.T) {
	d := startInProcess(t)
	code, _, stderr := runCLI(t, "serve", "--socket", d.socket, "--data-dir", t.TempDir(), "--hmac-secret-file", writeSecret(t, t.TempDir()))
	if code != exitFail {
		t.Errorf("second serve exit code = %d, want %d", code, exitFail)
	}
	if want := "another revokd is already serving on " + d.socket; !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr, want)
	}
	if !ready(d.socket) {
		t.Error("the first daemon stopped answering")
	}
}

// Every serve flag's help says what it is when not given, --write-gids
// included.
func TestServeHelpShowsDefaults(t *testing.T) {
	_, stdout, _ := runCLI(t, "serve", "--help")
	for _, name := range []string{"--write-uids", "--write-gids"} {
		var line string
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), name+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "default: anyone who can open it") {
			t.Errorf("%s help line = %q, want it to give the default", name, line)
		}
	}
}

// TestServeOIDCIssuerMismatch: a discovery document naming another issuer
// stops serve at start, saying which issuer it found.
func TestServeOIDCIssuerMismatch(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"https://evil.example","jwks_uri":"https://evil.example/jwks"}`))
	}))
	defer idp.Close()
	code, _, stderr := runCLI(t, "serve", "--oidc-issuer", idp.URL, "--data-dir", t.TempDir(), "--socket", filepath.Join(shortDir(t), "s"))
	if code != exitFail || !strings.Contains(stderr, `names another issuer: "https://evil.example"`) {
		t.Errorf("exit %d, stderr %q: want %d and the issuer found named", code, stderr, exitFail)
	}
}
