package main

import (
	"context"
	"errors"
	"github.com/revokd/revokd/internal/testwait"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// proc is a revokd binary running as a child process.
type proc struct {
	cmd            *exec.Cmd
	socket         string
	stdout, stderr *syncBuffer
	exited         chan struct{}
	err            error // from Wait, once exited is closed
}

// startProc starts the binary with args and the given extra environment
// (on top of a minimal one). It does not wait for readiness.
func startProc(t testing.TB, socket string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{socket: socket, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start revokd: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !p.hasExited() {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("revokd %v stderr:\n%s", args, p.stderr)
		}
	})
	return p
}

// startDaemon starts "revokd serve" on socket with dataDir and testSecret,
// plus extra flags, and waits until it is ready.
func startDaemon(t testing.TB, socket, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--socket", socket, "--data-dir", dataDir,
		"--hmac-secret-file", writeSecret(t, filepath.Dir(socket)), "--log-format", "json"}, extra...)
	p := startProc(t, socket, nil, args...)
	p.waitReady(t)
	return p
}

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *proc) waitReady(t testing.TB) {
	t.Helper()
	waitFor(t, "revokd to be ready on "+p.socket, func() bool {
		if p.hasExited() {
			t.Fatalf("revokd exited before ready (%v):\n%s", p.err, p.stderr)
		}
		return ready(p.socket)
	})
}

// stop sends sig and returns the exit code.
func (p *proc) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !p.hasExited() {
		t.Fatalf("signal revokd: %v", err)
	}
	return p.wait(t)
}

// wait waits for the process to exit and returns its exit code (-1 when a
// signal ended it).
func (p *proc) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatalf("revokd did not exit within 30s:\n%s", p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// unixHTTPClient is a plain net/http client that dials socket, as any
// language's HTTP client with Unix socket support would.
func unixHTTPClient(t testing.TB, socket string) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
