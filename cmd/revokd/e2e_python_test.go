package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The Python example mints its own token (no JWT library, so nothing shared
// with golang-jwt) and talks NDJSON to the real daemon.
func TestE2EPythonExample(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("REVOKD_CI") != "" {
			t.Fatal("python3 is required in CI (apt-get install -y python3)")
		}
		t.Skip("python3 not installed")
	}
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	out, err := exec.Command(python, "../../examples/python/revokd_client.py",
		"--socket", d.socket, "--secret-file", filepath.Join(dir, "hs256.secret"), "--sub", "12345678901234567890").Output()
	if err != nil {
		t.Fatalf("revokd_client.py: %v\n%s", err, out)
	}
	var got struct {
		Before struct {
			Active bool
			Sub    string
		}
		Stored bool
		After  struct{ Reason string }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if !got.Before.Active || got.Before.Sub != "12345678901234567890" || !got.Stored || got.After.Reason != "revoked" {
		t.Errorf("got %+v, want active with the 20-digit subject, stored, then revoked", got)
	}
}
