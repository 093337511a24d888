package daemon

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// trickle writes one byte of msg per tick until the write fails (the
// server hung up) or msg runs out, and reports how many bytes went out.
func trickle(c net.Conn, msg string, every time.Duration) (int, error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := range len(msg) {
		if _, err := c.Write([]byte{msg[i]}); err != nil {
			return i, err
		}
		<-tick.C
	}
	return len(msg), nil
}

func TestSlowClientsAreCutOff(t *testing.T) {
	// The timeouts are short so the test is quick; the client's pace is a
	// tenth of the timeout, so each read alone would pass: only a deadline
	// on the whole line (or header) cuts it off.
	const timeout = 200 * time.Millisecond
	ts := startServer(t, Config{
		FirstByteTimeout:  timeout,
		LineTimeout:       timeout,
		ReadHeaderTimeout: timeout,
		IdleTimeout:       timeout,
	})
	long := func(prefix string) string {
		b := []byte(prefix)
		for len(b) < 100_000 {
			b = append(b, 'a')
		}
		return string(b)
	}
	tests := []struct {
		name string
		msg  string // trickled; empty: say nothing at all
	}{
		{name: "silent after connect"},
		{name: "NDJSON line trickled", msg: long(`{"op":"validate","token":"`)},
		{name: "HTTP header trickled", msg: long("GET /healthz HTTP/1.1\r\nX-Slow: ")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.path)
			closed := make(chan error, 1)
			go func() { closed <- readUntilClosed(c) }()
			if tc.msg != "" {
				n, err := trickle(c, tc.msg, timeout/10)
				if err == nil {
					t.Fatalf("server took all %d trickled bytes without hanging up", n)
				}
			}
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIdleNDJSONConnectionIsClosed(t *testing.T) {
	ts := startServer(t, Config{IdleTimeout: 100 * time.Millisecond})
	nc := dialNDJSON(t, ts.path)
	if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Fatalf("got %q", got)
	}
	waitClosed(t, nc.c)
}

func TestConnectionCap(t *testing.T) {
	ts := startServer(t, Config{MaxConns: 1})
	// A full round trip proves the first connection holds the one slot.
	first := dialNDJSON(t, ts.path)
	if got := first.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Fatalf("first connection: got %q", got)
	}
	second := dial(t, ts.path)
	io.WriteString(second, `{"op":"validate","token":"good"}`+"\n")
	n, err := second.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("over the cap: read got %d bytes, err %v; want the connection closed", n, err)
	}
	first.c.Close()
	// The slot comes back once the server has seen the close: poll until a
	// new connection is served.
	deadline := time.Now().Add(testWait)
	for {
		c, err := net.Dial("unix", ts.path)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(deadline)
		io.WriteString(c, `{"op":"validate","token":"good"}`+"\n")
		buf := make([]byte, len(goodAnswer)+1)
		_, err = io.ReadFull(c, buf)
		c.Close()
		if err == nil {
			if string(buf) != goodAnswer+"\n" {
				t.Fatalf("after the slot freed: got %q", buf)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed: %v", err)
		}
	}
}

func TestNDJSONClientThatStopsReadingIsCutOff(t *testing.T) {
	ts := startServer(t, Config{WriteTimeout: 200 * time.Millisecond})
	c := dial(t, ts.path)
	// Pipeline requests and never read an answer: the answers fill the
	// socket's buffers, the server's write blocks, and its write deadline
	// must end the connection, which then fails the client's writes.
	req := []byte(`{"op":"validate","token":"good"}` + "\n" + `{"op":"status"}` + "\n")
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Write(req); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("write failed with %v, want the server to have hung up", err)
		}
	case <-time.After(testWait):
		t.Fatal("the server kept a connection that never reads its answers")
	}
}
