package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// serve --dev needs nothing configured, prints a token that validates and
// curl and CLI commands that work as printed, and keeps its key across
// runs. The first run's binary is not on PATH, so the CLI commands name it
// by its path; the second's is, so they say plain "revokd".
func TestE2EDev(t *testing.T) {
	dir := shortDir(t)
	baseEnv := []string{"XDG_STATE_HOME=" + filepath.Join(dir, "state"), "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run")}
	socket := filepath.Join(dir, "run", "revokd", "revokd.sock")
	keyFile := filepath.Join(dir, "state", "revokd-dev", devSecretFile)
	exe, err := filepath.EvalSymlinks(binPath)
	if err != nil {
		t.Fatal(err)
	}
	var firstKey []byte
	for run := 1; run <= 2; run++ {
		env, wantCLI := baseEnv, shellQuote(exe)
		if run == 2 {
			env = append(env, "PATH="+filepath.Dir(binPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
			wantCLI = "revokd"
		}
		p := startProc(t, socket, env, "serve", "--dev")
		waitFor(t, "the dev welcome text", func() bool {
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
		var token, cliValidate string
		var curls []string
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "eyJ"):
				token = line
			case strings.HasPrefix(line, "curl "):
				curls = append(curls, line)
			case strings.HasPrefix(line, wantCLI+" validate eyJ"):
				cliValidate = line
			}
		}
		if cliValidate == "" {
			t.Errorf("run %d: no %q validate command in:\n%s", run, wantCLI, out)
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
			runCLI(t, "revoke", "--socket", socket, token)
		}

		// So does the CLI's NDJSON line, from a shell with the same
		// environment: the token is revoked by now, so it exits 1.
		if cliValidate != "" {
			sh := exec.Command("sh", "-c", cliValidate)
			sh.Env = append(os.Environ(), env...)
			got, err := sh.Output()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(got), `"reason":"revoked"`) {
				t.Errorf("run %d: %s\n= %s (%v), want exit 1 and reason revoked", run, cliValidate, got, err)
			}
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
