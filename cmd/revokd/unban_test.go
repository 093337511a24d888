package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

func TestUnbanCommand(t *testing.T) {
	d := startInProcess(t)
	ban := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, _, stderr := runCLI(t, "revoke-all", "--socket", d.socket, "--sub", "erin", "--before", ban); code != exitOK {
		t.Fatalf("revoke-all: exit %d: %s", code, stderr)
	}
	// A token issued after the ban started is still rejected while it lasts,
	// with the ban's end.
	banned := mint(t, jwt.MapClaims{"sub": "erin", "iat": time.Now().Unix()})
	code, stdout, _ := runCLI(t, "validate", "--socket", d.socket, banned)
	if code != exitFail || !strings.Contains(stdout, `"until"`) {
		t.Fatalf("validate during the ban: exit %d %s; want 1 with until", code, stdout)
	}

	code, stdout, stderr := runCLI(t, "unban", "--socket", d.socket, "--sub", "erin")
	if code != exitOK {
		t.Fatalf("unban: exit %d: %s", code, stderr)
	}
	var resp apitype.UnbanResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		t.Fatalf("unban stdout %q: %v", stdout, err)
	}
	if !resp.Before.Before(time.Now().Add(time.Minute)) {
		t.Errorf("cutoff after unban = %v, want about now", resp.Before)
	}
	// Tokens issued before the unban stay revoked; new ones pass.
	fresh := mint(t, jwt.MapClaims{"sub": "erin", "iat": time.Now().Add(time.Second).Unix()})
	if code, stdout, _ := runCLI(t, "validate", "--socket", d.socket, fresh); code != exitOK {
		t.Errorf("validate a token issued after the unban: exit %d %s; want 0", code, stdout)
	}
	if code, _, _ := runCLI(t, "validate", "--socket", d.socket, banned); code != exitFail {
		t.Errorf("validate a token issued during the ban: exit %d; want 1", code)
	}

	if code, _, stderr := runCLI(t, "unban", "--socket", d.socket); code != exitUsage || !strings.Contains(stderr, "give --sub") {
		t.Errorf("unban without a target: exit %d %q; want 2 and a hint", code, stderr)
	}
}
