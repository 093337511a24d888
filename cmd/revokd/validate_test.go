package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

func TestValidateCommand(t *testing.T) {
	d := startInProcess(t)
	good := mint(t, jwt.MapClaims{"sub": "12345678901234567890", "jti": "v-1"})
	expired := mint(t, jwt.MapClaims{"sub": "1", "exp": time.Now().Add(-time.Hour).Unix()})
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantActive bool
		wantSub    string
		wantReason string
		wantStderr string
	}{
		{name: "active", args: []string{good}, wantCode: exitOK, wantActive: true, wantSub: "12345678901234567890"},
		{name: "from stdin with -", args: []string{"-"}, stdin: good + "\n", wantCode: exitOK, wantActive: true, wantSub: "12345678901234567890"},
		{name: "from stdin without argument", stdin: good, wantCode: exitOK, wantActive: true, wantSub: "12345678901234567890"},
		{name: "expired", args: []string{expired}, wantCode: exitFail, wantReason: apitype.ReasonExpired},
		{name: "garbage", args: []string{"not.a.jwt"}, wantCode: exitFail, wantReason: apitype.ReasonMalformed},
		{name: "two tokens", args: []string{good, good}, wantCode: exitUsage, wantStderr: "give one token"},
		{name: "empty stdin", stdin: "", wantCode: exitUsage, wantStderr: "empty token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdin = strings.NewReader(tc.stdin)
			defer func() { stdin = nil }()
			code, stdout, stderr := runCLI(t, append([]string{"validate", "--socket", d.socket}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d; stdout %q stderr %q", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
			if tc.wantCode == exitUsage {
				return
			}
			var resp apitype.ValidateResponse
			if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
				t.Fatalf("stdout %q is not a JSON answer: %v", stdout, err)
			}
			if resp.Active != tc.wantActive || resp.Sub != tc.wantSub || resp.Reason != tc.wantReason {
				t.Errorf("got active=%v sub=%q reason=%q, want %v %q %q", resp.Active, resp.Sub, resp.Reason, tc.wantActive, tc.wantSub, tc.wantReason)
			}
		})
	}
}

func TestValidateNoDaemonExits2(t *testing.T) {
	code, stdout, stderr := runCLI(t, "validate", "--socket", filepath.Join(t.TempDir(), "absent.sock"), "a.b.c")
	if code != exitUsage {
		t.Errorf("exit code = %d, want %d", code, exitUsage)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if !strings.Contains(stderr, "Is the daemon running?") {
		t.Errorf("stderr = %q, want a hint about the daemon", stderr)
	}
}

func TestCallFailedHints(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		hint     string
	}{
		{"no daemon", &client.Error{Code: apitype.CodeUnavailable, Err: syscall.ECONNREFUSED}, exitFail, "Is the daemon running?"},
		{"store down (503)", &client.Error{Status: 503, Code: apitype.CodeUnavailable, Message: "revocation store unavailable"}, exitFail, "cannot reach its revocation store"},
		{"bad request", &client.Error{Status: 400, Code: apitype.CodeBadRequest, Message: "bad"}, exitUsage, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := callFailed(&stderr, "revoke", tc.err); code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			switch {
			case tc.hint == "" && len(lines) != 1:
				t.Errorf("stderr = %q, want the error alone", stderr.String())
			case tc.hint != "" && (len(lines) != 2 || !strings.Contains(lines[1], tc.hint)):
				t.Errorf("stderr = %q, want the error and a hint with %q", stderr.String(), tc.hint)
			}
		})
	}
}

// A daemon that cannot vouch for its state answers "unavailable": validate
// exits 3, neither active (0) nor refused (1), and still prints the answer.
func TestValidateUnavailableExits3(t *testing.T) {
	socket := filepath.Join(shortDir(t), "u.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					io.WriteString(c, `{"active":false,"reason":"unavailable"}`+"\n")
				}
			}()
		}
	}()
	code, stdout, _ := runCLI(t, "validate", "--socket", socket, "a.b.c")
	if code != exitNoVerdict || !strings.Contains(stdout, `"unavailable"`) {
		t.Errorf("exit %d, stdout %q; want %d and the answer", code, stdout, exitNoVerdict)
	}
}
