package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/revokd/revokd/cache/bolt"
	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/daemon/pipeline"
)

// exampleSecret is the HS256 key of the daemon the examples talk to.
var exampleSecret = []byte("example-secret-for-revokd-client-examples")

// TestMain starts a real daemon (pipeline, embedded store, socket server)
// for the examples and points REVOKD_SOCKET at it, so that they can use the
// zero Client as an application would.
func TestMain(m *testing.M) {
	code, err := runWithDaemon(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func runWithDaemon(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "rvkc")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	d, err := daemon.New(daemon.Options{
		Pipeline: pipeline.Config{HMACSecret: exampleSecret},
		Bolt:     &bolt.Config{Path: filepath.Join(dir, "revokd.db")},
		// The daemon also mints, with the same secret (ExampleClient_Issue).
		Signing: &daemon.SigningConfig{
			Key:      func() ([]byte, error) { return exampleSecret, nil },
			Alg:      "HS256",
			Rotation: true,
		},
	})
	if err != nil {
		return 0, err
	}
	defer d.Close()
	socket := filepath.Join(dir, "revokd.sock")
	ln, err := daemon.Listen(socket, 0o600)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	waitReady(socket)
	os.Setenv(client.SocketEnv, socket)
	return m.Run(), nil
}

func waitReady(socket string) {
	c := &client.Client{Socket: socket}
	defer c.Close()
	// No deadline of its own: go test's -timeout bounds the wait, so a busy
	// machine makes it slower, never failed.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, err := c.Ready(context.Background()); err == nil && ok {
			return
		}
		<-tick.C
	}
}

// exampleToken mints a token for sub, as the application's login would:
// issued a minute ago, valid for an hour, with its own jti.
func exampleToken(sub string) string {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub":      sub,
		"jti":      fmt.Sprintf("%s-%d", sub, now.UnixNano()),
		"iat":      now.Add(-time.Minute).Unix(),
		"orig_iat": now.Add(-time.Minute).Unix(),
		"exp":      now.Add(time.Hour).Unix(),
	}).SignedString(exampleSecret)
	if err != nil {
		panic(err)
	}
	return tok
}
