package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve --dev needs nothing configured, prints a token that validates and
// curl commands that work as printed, and keeps its key across runs.
func TestE2EDev(t *testing.T) {
	dir := shortDir(t)
	env := []string{"XDG_STATE_HOME=" + filepath.Join(dir, "state"), "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run")}
	socket := filepath.Join(dir, "run", "revokd", "revokd.sock")
	keyFile := filepath.Join(dir, "state", "revokd-dev", devSecretFile)
	var firstKey []byte
	for run := 1; run <= 2; run++ {
		p := startProc(t, socket, env, "serve", "--dev")
		waitFor(t, "the dev welcome text", 30*time.Second, func() bool {
			if p.hasExited() {
				t.Fatalf("serve --dev exited (%v):\n%s", p.err, p.stderr)
			}
			return p.stdout.Contains("Press Ctrl-C to stop.")
		})
		if !p.stderr.Contains("DEVELOPMENT mode") {
			t.Errorf("run %d: the log does not say DEVELOPMENT mode:\n%s", run, p.stderr)
		}
		out := p.stdout.String()
		if !strings.Contains(out, "socket:      "+socket) {
			t.Errorf("run %d: welcome text does not name the socket %s:\n%s", run, socket, out)
		}
		var token string
		var curls []string
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "eyJ"):
				token = line
			case strings.HasPrefix(line, "curl "):
				curls = append(curls, line)
			}
		}
		if token == "" || len(curls) != 3 {
			t.Fatalf("run %d: want a token and 3 curl commands in:\n%s", run, out)
		}
		wantReasons(t, socket, map[string]string{token: ""})

		// The commands work exactly as printed: validate, revoke, validate.
		if _, err := exec.LookPath("curl"); err == nil {
			wants := []string{`"active":true`, `{"stored":true}`, `"reason":"revoked"`}
			for i, c := range curls {
				got, err := exec.Command("sh", "-c", c).Output()
				if err != nil || !strings.Contains(string(got), wants[i]) {
					t.Errorf("run %d: %s\n= %s (%v), want it to contain %s", run, c, got, err, wants[i])
				}
			}
		} else {
			t.Log("curl not installed: the printed commands were not run")
		}

		fi, err := os.Stat(keyFile)
		if err != nil {
			t.Fatalf("dev key: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("dev key mode = %#o, want 0600", fi.Mode().Perm())
		}
		key, _ := os.ReadFile(keyFile)
		if run == 1 {
			firstKey = key
			if len(key) != 64 {
				t.Errorf("dev key is %d bytes, want 64 hex characters", len(key))
			}
		} else if string(key) != string(firstKey) {
			t.Error("the dev key changed between runs")
		}
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("run %d: exit code %d after SIGTERM, want 0", run, code)
		}
	}
}
