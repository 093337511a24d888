package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRevokeCommand(t *testing.T) {
	d := startInProcess(t)
	exp := time.Now().Add(time.Hour).Unix()
	byToken := mint(t, jwt.MapClaims{"sub": "1", "jti": "r-token"})
	byID := mint(t, jwt.MapClaims{"sub": "1", "jti": "r-id", "exp": exp})
	bySession := mint(t, jwt.MapClaims{"sub": "2", "sid": "r-sid", "jti": "r-s1"})
	sibling := mint(t, jwt.MapClaims{"sub": "2", "sid": "r-sid", "jti": "r-s2"})
	sock := []string{"--socket", d.socket}
	steps := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "token", args: []string{byToken}, wantCode: exitOK, wantStdout: `{"stored":true}`},
		{name: "same token again stores nothing", args: []string{byToken}, wantCode: exitOK, wantStdout: `{"stored":false}`},
		{name: "garbage is not an error", args: []string{"x.y.z"}, wantCode: exitOK, wantStdout: `{"stored":false}`},
		{name: "jti and exp", args: []string{"--jti", "r-id", "--exp", strconv.FormatInt(exp, 10)}, wantCode: exitOK, wantStdout: `{"stored":true}`},
		{name: "jti again says it is already denied", args: []string{"--jti", "r-id", "--exp", strconv.FormatInt(exp, 10)}, wantCode: exitOK, wantStdout: `{"stored":false}`, wantStderr: `nothing stored: jti "r-id" is already denied`},
		{name: "exp in the past says why nothing was stored", args: []string{"--jti", "r-past", "--exp", "2001-09-09T01:46:40Z"}, wantCode: exitOK, wantStdout: `{"stored":false}`, wantStderr: "nothing stored: exp 2001-09-09T01:46:40Z has passed (plus the daemon's leeway)"},
		{name: "a garbage token says why nothing was stored", args: []string{"x.y.z"}, wantCode: exitOK, wantStdout: `{"stored":false}`, wantStderr: "nothing stored: the token is invalid, expired, or already revoked"},
		{name: "jti without exp", args: []string{"--jti", "x"}, wantCode: exitUsage, wantStderr: "--jti needs --exp"},
		{name: "exp without jti", args: []string{"--exp", "1"}, wantCode: exitUsage, wantStderr: "--exp goes with --jti"},
		{name: "bad exp", args: []string{"--jti", "x", "--exp", "tomorrow"}, wantCode: exitUsage, wantStderr: "neither Unix seconds nor an RFC 3339 time"},
		{name: "token and jti", args: []string{"--jti", "x", "--exp", "1", byToken}, wantCode: exitUsage, wantStderr: "not both"},
		{name: "nothing", args: nil, wantCode: exitUsage, wantStderr: "give one token"},
		{name: "the token's session", args: []string{"--scope", "session", bySession}, wantCode: exitOK, wantStdout: `{"stored":true}`},
		{name: "a garbage token's session", args: []string{"--scope", "subject", "x.y.z"}, wantCode: exitOK, wantStdout: `{"stored":false}`, wantStderr: "cannot end its subject"},
		{name: "bad scope", args: []string{"--scope", "device", bySession}, wantCode: exitUsage, wantStderr: "--scope must be session or subject"},
		{name: "scope with jti", args: []string{"--scope", "session", "--jti", "x", "--exp", "1"}, wantCode: exitUsage, wantStderr: "--scope goes with a token"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append(append([]string{"revoke"}, sock...), s.args...)...)
			if code != s.wantCode {
				t.Fatalf("exit code = %d, want %d; stdout %q stderr %q", code, s.wantCode, stdout, stderr)
			}
			if strings.TrimSpace(stdout) != s.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, s.wantStdout)
			}
			if !strings.Contains(stderr, s.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, s.wantStderr)
			}
		})
	}
	if code, stdout, _ := runCLI(t, "validate", "--socket", d.socket, sibling); code != exitFail || !strings.Contains(stdout, `"reason":"session_revoked"`) {
		t.Errorf("validate another token of the revoked session: exit %d, %s; want 1 and session_revoked", code, stdout)
	}
	for _, token := range []string{byToken, byID} {
		code, stdout, _ := runCLI(t, "validate", "--socket", d.socket, token)
		if code != exitFail || !strings.Contains(stdout, `"reason":"revoked"`) {
			t.Errorf("validate after revoke: exit %d, %s; want 1 and revoked", code, stdout)
		}
	}
}

func TestParseUnixOrRFC3339(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1800000000", want: 1800000000},
		{in: "2027-01-15T08:00:00Z", want: 1800000000},
		{in: "2027-01-15T09:00:00+01:00", want: 1800000000},
		{in: "soon", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseUnixOrRFC3339(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseUnixOrRFC3339(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRevokeByJTIIsPrivileged(t *testing.T) {
	// This process's uid is not on the list, so it may revoke a token it
	// holds but not a bare jti, which could end anyone's session.
	other := strconv.Itoa(os.Getuid() + 4242)
	d := startInProcess(t, "--write-uids", other)
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	token := mint(t, jwt.MapClaims{"sub": "1", "jti": "p-token"})
	code, stdout, stderr := runCLI(t, "revoke", "--socket", d.socket, "--jti", "p-id", "--exp", exp)
	if code != exitFail || !strings.Contains(stderr, "403 forbidden") || stdout != "" {
		t.Errorf("revoke --jti by an unlisted uid: exit %d, stdout %q, stderr %q; want 1 and 403 forbidden", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "revoke", "--socket", d.socket, token)
	if code != exitOK || strings.TrimSpace(stdout) != `{"stored":true}` {
		t.Errorf("revoke with the token: exit %d, stdout %q, stderr %q; want 0 and stored", code, stdout, stderr)
	}
}
