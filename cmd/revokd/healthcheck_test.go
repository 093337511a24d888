package main

import (
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revokd/revokd/client/apitype"
)

func TestHealthcheckCommand(t *testing.T) {
	d := startInProcess(t)
	tests := []struct {
		name       string
		socket     string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string // substrings
	}{
		{name: "ready daemon", socket: d.socket, wantCode: exitOK, wantStdout: "ready"},
		{name: "no daemon", socket: filepath.Join(t.TempDir(), "absent.sock"), wantCode: exitFail,
			// Say how to start one, and where the socket path comes from.
			wantStderr: []string{"revokd healthcheck:", "revokd serve", "--socket", "REVOKD_SOCKET"}},
		{name: "first snapshot not loaded", socket: fakeDaemon(t, false, false), wantCode: exitFail,
			wantStdout: "not ready: the daemon has not loaded its revocations yet"},
		{name: "stale under --stale-after", socket: fakeDaemon(t, true, true), wantCode: exitFail,
			wantStdout: "not ready: no contact with the revocation store for 301.500s, longer than --stale-after; validations answer unavailable"},
		{name: "--live, ready daemon", socket: d.socket, args: []string{"--live"}, wantCode: exitOK, wantStdout: "alive"},
		// A stale daemon is alive: a probe must not restart it.
		{name: "--live, stale daemon", socket: fakeDaemon(t, true, true), args: []string{"--live"}, wantCode: exitOK, wantStdout: "alive"},
		{name: "--live, no daemon", socket: filepath.Join(t.TempDir(), "absent.sock"), args: []string{"--live"}, wantCode: exitFail,
			wantStderr: []string{"revokd serve"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"healthcheck", "--socket", tc.socket}, tc.args...)...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if strings.TrimSpace(stdout) != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tc.wantStdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr = %q, want it to mention %q", stderr, want)
				}
			}
		})
	}
	// The socket can come from the environment alone.
	t.Setenv("REVOKD_SOCKET", d.socket)
	if code, _, stderr := runCLI(t, "healthcheck"); code != exitOK {
		t.Errorf("healthcheck with REVOKD_SOCKET: exit %d: %s", code, stderr)
	}
}

// fakeDaemon serves /readyz (503, as the daemon answers when it cannot
// vouch for its state) and /v1/status on a socket, and returns its path.
// The daemon's own tests show when /readyz says 503; this one shows that
// healthcheck follows it and names the cause.
func fakeDaemon(t *testing.T, loaded, stale bool) string {
	t.Helper()
	socket := filepath.Join(shortDir(t), "f.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		printJSON(w, apitype.ErrorResponse{Error: apitype.ErrorBody{Code: apitype.CodeUnavailable, Message: "not ready"}})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		printJSON(w, apitype.StatusResponse{Ready: loaded, Stale: stale, StaleSeconds: 301.5})
	})
	srv := &http.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fake daemon: %v", err)
		}
	})
	return socket
}
