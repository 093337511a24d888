package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

// What a call acts on comes only from its command line: a REVOKD_BEFORE,
// REVOKD_SUB or REVOKD_JTI left in the environment changes nothing. How to
// reach the daemon (REVOKD_SOCKET, REVOKD_TIMEOUT) does come from it.
func TestPerCallFlagsIgnoreEnvironment(t *testing.T) {
	d := startInProcess(t)
	ban := time.Now().Add(4 * 365 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for k, v := range map[string]string{
		"REVOKD_SOCKET": d.socket,
		"REVOKD_BEFORE": ban,
		"REVOKD_SUB":    "from-env",
		"REVOKD_CLAIM":  "sid",
		"REVOKD_VALUE":  "from-env",
		"REVOKD_JTI":    "from-env",
		"REVOKD_EXP":    "4102444800",
		"REVOKD_TOKEN":  "x.y.z",
	} {
		t.Setenv(k, v)
	}
	token := mint(t, jwt.MapClaims{"sub": "env-1", "jti": "env-token"})

	t.Run("revoke-all --sub x is not a ban", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "revoke-all", "--sub", "x")
		if code != exitOK {
			t.Fatalf("exit code = %d, want 0; stderr %q", code, stderr)
		}
		var resp apitype.RevokeAllResponse
		if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
			t.Fatalf("stdout %q: %v", stdout, err)
		}
		// The cutoff is now (the daemon's clock), not REVOKD_BEFORE's year.
		if resp.Claim != "sub" || resp.Value != "x" || resp.Before.After(time.Now().Add(time.Hour)) {
			t.Errorf("got %+v, want sub x cut off now, not at REVOKD_BEFORE %s", resp, ban)
		}
	})

	usage := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"revoke-all without a target", []string{"revoke-all"}, "give --sub, or --claim and --value"},
		{"unban without a target", []string{"unban"}, "give --sub, or --claim and --value"},
		{"revoke-all --claim without --value", []string{"revoke-all", "--claim", "sid"}, "--claim needs --value"},
		{"revoke without a token or --jti", []string{"revoke"}, "give one token, or --jti and --exp"},
		{"revoke --jti without --exp", []string{"revoke", "--jti", "j"}, "--jti needs --exp"},
		{"validate reads no token from the environment", []string{"validate", ""}, "empty token"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tc.wantStderr)
			}
		})
	}

	t.Run("revoke TOKEN ignores REVOKD_JTI and REVOKD_EXP", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "revoke", token)
		if code != exitOK || strings.TrimSpace(stdout) != `{"stored":true}` {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0 and stored", code, stdout, stderr)
		}
	})

	// The settings do come from the environment: a bad REVOKD_TIMEOUT is
	// reported under its name.
	t.Run("REVOKD_TIMEOUT is read", func(t *testing.T) {
		t.Setenv("REVOKD_TIMEOUT", "soon")
		code, _, stderr := runCLI(t, "status")
		if code != exitUsage || !strings.Contains(stderr, "REVOKD_TIMEOUT") {
			t.Errorf("exit %d, stderr %q; want 2 naming REVOKD_TIMEOUT", code, stderr)
		}
	})

	// Nothing was done to the environment's subject.
	wantReasons(t, d.socket, map[string]string{
		token: "revoked",
		mint(t, jwt.MapClaims{"sub": "from-env"}): "",
	})
}

// Help marks which flags the environment can set.
func TestHelpMarksEnvironmentFlags(t *testing.T) {
	tests := []struct {
		command  string
		want     []string
		dontWant []string
	}{
		{"revoke-all", []string{"[REVOKD_SOCKET]", "[REVOKD_TIMEOUT]"}, []string{"[REVOKD_SUB]", "[REVOKD_BEFORE]", "[REVOKD_CLAIM]", "[REVOKD_VALUE]"}},
		{"revoke", []string{"[REVOKD_SOCKET]"}, []string{"[REVOKD_JTI]", "[REVOKD_EXP]"}},
		{"unban", []string{"[REVOKD_SOCKET]"}, []string{"[REVOKD_SUB]"}},
		{"serve", []string{"[REVOKD_SOCKET]", "[REVOKD_WRITE_GIDS]", "[REVOKD_DEV]", "[REVOKD_DATABASE_URL]"}, nil},
		{"migrate", []string{"[REVOKD_DATABASE_URL]"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			_, stdout, _ := runCLI(t, tc.command, "--help")
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help does not mention %s:\n%s", w, stdout)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(stdout, w) {
					t.Errorf("help offers %s, which is not read:\n%s", w, stdout)
				}
			}
		})
	}
}
