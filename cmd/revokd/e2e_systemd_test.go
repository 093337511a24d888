package main

import (
	"github.com/revokd/revokd/internal/testwait"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Under systemd: the daemon serves on the socket passed as fd 3
// (revokd.socket), leaves that socket in place when it stops, and sends
// READY=1 and STOPPING=1 to NOTIFY_SOCKET (Type=notify).
func TestE2ESystemdActivationAndNotify(t *testing.T) {
	dir := shortDir(t)
	socket := filepath.Join(dir, "act.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	lnFile, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // the daemon holds the duplicate
	defer lnFile.Close()

	notifyPath := filepath.Join(dir, "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	states := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := notify.ReadFromUnix(buf)
			if err != nil {
				close(states)
				return
			}
			states <- string(buf[:n])
		}
	}()

	// LISTEN_PID must be the daemon's own pid: the shell's $$ is, since exec
	// keeps it.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" serve --data-dir "$1" --hmac-secret-file "$2" --socket "$3"`,
		binPath, filepath.Join(dir, "data"), writeSecret(t, dir), filepath.Join(dir, "ignored.sock"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LISTEN_FDS=1", "NOTIFY_SOCKET=" + notifyPath}
	cmd.ExtraFiles = []*os.File{lnFile}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr)
		}
	}()

	waitState := func(want string) {
		t.Helper()
		deadline := time.After(time.Until(testwait.Deadline(t)))
		for {
			select {
			case s, ok := <-states:
				if !ok {
					t.Fatalf("notify socket closed before %s", want)
				}
				if strings.Contains(s, want) {
					return
				}
			case err := <-exited:
				t.Fatalf("revokd exited (%v) before sending %s", err, want)
			case <-deadline:
				t.Fatalf("no %s from revokd within 30s", want)
			}
		}
	}
	waitState("READY=1")
	if !ready(socket) {
		t.Fatal("not ready on the socket systemd passed")
	}
	if _, err := os.Lstat(filepath.Join(dir, "ignored.sock")); !os.IsNotExist(err) {
		t.Errorf("--socket was created although systemd passed a socket (lstat: %v)", err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	waitState("STOPPING=1")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("revokd did not exit within 30s of SIGTERM")
	}
	if _, err := os.Lstat(socket); err != nil {
		t.Errorf("the socket systemd owns was removed: %v", err)
	}
}
