package client_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

// startRefuser listens on a socket and does what a daemon at its connection
// cap does: writes line and closes every connection at once, its request
// unread.
func startRefuser(t *testing.T, line string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, line)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return path
}

func TestTooManyConnections(t *testing.T) {
	calls := []struct {
		name string
		call func(ctx context.Context, c *client.Client) error
	}{
		{name: "validate (NDJSON)", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.Validate(ctx, "x.y.z")
			return err
		}},
		{name: "status (HTTP GET)", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.Status(ctx)
			return err
		}},
		{name: "revoke-all (HTTP POST)", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "42"})
			return err
		}},
		{name: "ready (HTTP GET)", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.Ready(ctx)
			return err
		}},
	}
	refusals := []struct{ line, want string }{
		{"revokd: too many connections (cap 1024)\n", "revokd: unavailable: too many connections (cap 1024)"},
		{"revokd: too many connections from uid 1000 (cap 512)\n", "revokd: unavailable: too many connections from uid 1000 (cap 512)"},
	}
	for _, r := range refusals {
		path := startRefuser(t, r.line)
		for _, tc := range calls {
			t.Run(tc.name, func(t *testing.T) {
				c := &client.Client{Socket: path}
				defer c.Close()
				err := tc.call(context.Background(), c)
				if !client.IsTooManyConnections(err) || !client.IsUnavailable(err) {
					t.Fatalf("got %v, want a too-many-connections error that is also unavailable", err)
				}
				if err.Error() != r.want {
					t.Errorf("error text: got %q, want %q", err.Error(), r.want)
				}
			})
		}
	}
}
