package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheckCommand(t *testing.T) {
	d := startInProcess(t)
	tests := []struct {
		name       string
		socket     string
		wantCode   int
		wantStdout string
	}{
		{name: "ready daemon", socket: d.socket, wantCode: exitOK, wantStdout: "ready"},
		{name: "no daemon", socket: filepath.Join(t.TempDir(), "absent.sock"), wantCode: exitFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "healthcheck", "--socket", tc.socket)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if strings.TrimSpace(stdout) != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tc.wantStdout)
			}
		})
	}
	// The socket can come from the environment alone.
	t.Setenv("REVOKD_SOCKET", d.socket)
	if code, _, stderr := runCLI(t, "healthcheck"); code != exitOK {
		t.Errorf("healthcheck with REVOKD_SOCKET: exit %d: %s", code, stderr)
	}
}
