package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/internal/testwait"
)

// testSecret is the HS256 key of the daemons the tests start.
var testSecret = []byte("0123456789abcdef0123456789abcdef-revokd-tests")

// writeSecret writes testSecret to a file and returns its path.
func writeSecret(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "hs256.secret")
	if err := os.WriteFile(path, testSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mint signs claims with testSecret. Missing iat, orig_iat and exp are
// filled in: issued a minute ago, expiring in an hour.
func mint(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	if _, ok := claims["iat"]; !ok {
		claims["iat"] = now.Add(-time.Minute).Unix()
	}
	if _, ok := claims["orig_iat"]; !ok {
		claims["orig_iat"] = claims["iat"]
	}
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = now.Add(time.Hour).Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shortDir returns a fresh directory with a short path: Unix socket paths
// must fit in 108 bytes, and t.TempDir's names grow with the test's name.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rvk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// waitFor polls cond until it holds; only go test's -timeout bounds it.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, cond)
}

// ready reports whether a daemon answers ready on socket.
func ready(socket string) bool {
	c := &client.Client{Socket: socket}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ok, err := c.Ready(ctx)
	return err == nil && ok
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines (a daemon's log and the test reading it).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Contains(sub string) bool { return strings.Contains(s.String(), sub) }

// inProcess is a daemon run by run("serve", ...) in this test process.
type inProcess struct {
	socket, dataDir string
	stdout, stderr  *syncBuffer
	cancel          context.CancelFunc
	done            chan int
}

// startInProcess runs "revokd serve" in a goroutine with a fresh socket,
// data directory and testSecret, plus extra flags, and waits until it is
// ready. It is stopped when the test ends.
func startInProcess(t testing.TB, extra ...string) *inProcess {
	t.Helper()
	dir := shortDir(t)
	d := &inProcess{
		socket:  filepath.Join(dir, "s.sock"),
		dataDir: filepath.Join(dir, "data"),
		stdout:  &syncBuffer{},
		stderr:  &syncBuffer{},
		done:    make(chan int, 1),
	}
	args := append([]string{"serve", "--socket", d.socket, "--data-dir", d.dataDir,
		"--hmac-secret-file", writeSecret(t, dir)}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- run(ctx, args, d.stdout, d.stderr) }()
	t.Cleanup(func() { d.stop(t) })
	waitFor(t, "the in-process daemon to be ready", func() bool {
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("serve exited %d before ready:\n%s", code, d.stderr)
		default:
		}
		return ready(d.socket)
	})
	return d
}

// stop cancels the daemon (as SIGTERM does) and returns its exit code.
func (d *inProcess) stop(t testing.TB) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		d.done <- code // stop is idempotent
		return code
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatalf("serve did not stop within 30s:\n%s", d.stderr)
		return -1
	}
}

// runCLI runs one revokd command line in-process and returns its exit code,
// stdout and stderr.
func runCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
