package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

func TestRevokeAllCommand(t *testing.T) {
	d := startInProcess(t)
	sub := mint(t, jwt.MapClaims{"sub": "alice"})
	sid := mint(t, jwt.MapClaims{"sub": "bob", "sid": "s-1"})
	other := mint(t, jwt.MapClaims{"sub": "carol"})
	ban := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantClaim  string
		wantValue  string
		wantBefore time.Time // zero: only check it is set
		wantStderr string
	}{
		{name: "subject", args: []string{"--sub", "alice"}, wantCode: exitOK, wantClaim: "sub", wantValue: "alice"},
		{name: "session", args: []string{"--claim", "sid", "--value", "s-1"}, wantCode: exitOK, wantClaim: "sid", wantValue: "s-1"},
		{name: "ban", args: []string{"--sub", "dave", "--before", ban.Format(time.RFC3339)}, wantCode: exitOK, wantClaim: "sub", wantValue: "dave", wantBefore: ban},
		{name: "neither", wantCode: exitUsage, wantStderr: "give --sub, or --claim and --value"},
		{name: "both", args: []string{"--sub", "a", "--claim", "sid", "--value", "b"}, wantCode: exitUsage, wantStderr: "not both"},
		{name: "claim alone", args: []string{"--claim", "sid"}, wantCode: exitUsage, wantStderr: "--claim needs --value"},
		{name: "bad before", args: []string{"--sub", "a", "--before", "tomorrow"}, wantCode: exitUsage, wantStderr: "not an RFC 3339 time"},
		{name: "claim the daemon does not cut off", args: []string{"--claim", "tenant", "--value", "x"}, wantCode: exitUsage, wantStderr: "400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"revoke-all", "--socket", d.socket}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d; stdout %q stderr %q", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
			if code != exitOK {
				return
			}
			var resp apitype.RevokeAllResponse
			if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			if resp.Claim != tc.wantClaim || resp.Value != tc.wantValue || resp.Before.IsZero() {
				t.Errorf("got %+v, want claim %q value %q and a cutoff", resp, tc.wantClaim, tc.wantValue)
			}
			if !tc.wantBefore.IsZero() && !resp.Before.Equal(tc.wantBefore) {
				t.Errorf("before = %v, want %v", resp.Before, tc.wantBefore)
			}
		})
	}
	for _, c := range []struct {
		token, reason string
		wantCode      int
	}{
		{sub, apitype.ReasonSubjectRevoked, exitFail},
		{sid, apitype.ReasonSessionRevoked, exitFail},
		{other, "", exitOK},
	} {
		code, stdout, _ := runCLI(t, "validate", "--socket", d.socket, c.token)
		var resp apitype.ValidateResponse
		json.Unmarshal([]byte(stdout), &resp)
		if code != c.wantCode || resp.Reason != c.reason {
			t.Errorf("validate: exit %d reason %q, want %d %q", code, resp.Reason, c.wantCode, c.reason)
		}
	}
}

// --write-uids limits revoke-all and unban to the listed users; anyone else
// gets 403, which the command reports and exits 1 for.
func TestRevokeAllForbidden(t *testing.T) {
	me := os.Getuid()
	tests := []struct {
		name       string
		uids       string
		wantCode   int
		wantStderr string
	}{
		{name: "listed", uids: strconv.Itoa(me), wantCode: exitOK},
		{name: "not listed", uids: strconv.Itoa(me + 4242), wantCode: exitFail, wantStderr: "403 forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := startInProcess(t, "--write-uids", tc.uids)
			for _, cmd := range [][]string{{"revoke-all", "--sub", "x"}, {"unban", "--sub", "x"}} {
				code, _, stderr := runCLI(t, append(cmd, "--socket", d.socket)...)
				if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
					t.Errorf("%s: exit %d %q; want %d and %q", cmd[0], code, stderr, tc.wantCode, tc.wantStderr)
				}
			}
			// Validation stays open to anyone who can open the socket.
			if code, _, _ := runCLI(t, "validate", "--socket", d.socket, mint(t, jwt.MapClaims{"sub": "y"})); code != exitOK {
				t.Errorf("validate: exit %d, want 0", code)
			}
		})
	}
}
