package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/internal/testwait"
)

func TestCommandsReportTheConnectionCap(t *testing.T) {
	d := startInProcess(t, "--max-connections", "1")
	token := mint(t, jwt.MapClaims{"sub": "1", "jti": "cap"})
	// Take the one slot. The readiness probe's connection may not be closed
	// on the daemon's side yet: retry until the daemon answers.
	var held net.Conn
	waitFor(t, "a connection holding the daemon's one slot", func() bool {
		c, err := net.Dial("unix", d.socket)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(testwait.Deadline(t))
		io.WriteString(c, `{"op":"status"}`+"\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && strings.HasPrefix(line, "{") {
			held = c
			return true
		}
		c.Close()
		return false
	})
	defer held.Close()
	// This test runs as root or as the daemon's own uid, which may go past
	// the cap by a reserve: take that too.
	for range daemon.ExemptReserve {
		c, err := net.Dial("unix", d.socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(testwait.Deadline(t))
		io.WriteString(c, `{"op":"status"}`+"\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "{") {
			t.Fatalf("a connection within the reserve: got %q, %v", line, err)
		}
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "status (HTTP)", args: []string{"status"}, wantCode: exitFail},
		{name: "validate (NDJSON)", args: []string{"validate", token}, wantCode: exitUsage},
		{name: "revoke (HTTP POST)", args: []string{"revoke", token}, wantCode: exitFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.args[0], "--socket", d.socket}, tc.args[1:]...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.wantCode || stdout != "" {
				t.Errorf("exit %d, stdout %q; want exit %d and nothing", code, stdout, tc.wantCode)
			}
			if !strings.Contains(stderr, "too many connections (cap 1)") || !strings.Contains(stderr, "--max-connections") {
				t.Errorf("stderr = %q, want the daemon's refusal and a hint at --max-connections", stderr)
			}
			if strings.Contains(stderr, "broken pipe") || strings.Contains(stderr, "Is the daemon running?") {
				t.Errorf("stderr = %q, reports a dead daemon instead of the cap", stderr)
			}
		})
	}
}
