package client

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// socketPair returns the two ends of a connected Unix stream socket.
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

func TestRefusalConn(t *testing.T) {
	const line = "revokd: too many connections from uid 7 (cap 2)\n"
	tests := []struct {
		name string
		use  func(c *refusalConn) error
	}{
		// The daemon closed before the request went out: the write fails
		// with a broken pipe, and the line is the reason.
		{name: "write after the close", use: func(c *refusalConn) error {
			_, err := c.Write([]byte(`{"op":"status"}` + "\n"))
			return err
		}},
		{name: "read", use: func(c *refusalConn) error {
			_, err := io.ReadAll(c)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, daemon := socketPair(t)
			io.WriteString(daemon, line)
			daemon.Close()
			err := tc.use(&refusalConn{Conn: client})
			var refused *refusedError
			if !errors.As(err, &refused) || refused.msg != "too many connections from uid 7 (cap 2)" {
				t.Fatalf("got %v, want the refusal", err)
			}
			if !errors.Is(err, ErrTooManyConnections) {
				t.Errorf("errors.Is(%v, ErrTooManyConnections) = false", err)
			}
		})
	}
	t.Run("an answer passes through", func(t *testing.T) {
		client, daemon := socketPair(t)
		io.WriteString(daemon, `{"active":false,"reason":"malformed"}`+"\n")
		daemon.Close()
		got, err := io.ReadAll(&refusalConn{Conn: client})
		if err != nil || string(got) != `{"active":false,"reason":"malformed"}`+"\n" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}
