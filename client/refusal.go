package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/revokd/revokd/client/apitype"
)

// ErrTooManyConnections is the cause (errors.Is) of a call whose connection
// the daemon refused at its connection cap, in all or for this caller's
// uid. Such a call is also unavailable (IsUnavailable): the daemon cannot
// take it now, and may later.
var ErrTooManyConnections = errors.New("too many connections")

// IsTooManyConnections reports whether the daemon refused the call's
// connection at its connection cap.
func IsTooManyConnections(err error) bool { return errors.Is(err, ErrTooManyConnections) }

// refusedError is the daemon's refusal line, without its "revokd: " and
// newline: "too many connections (cap 1024)".
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func (e *refusedError) Is(target error) bool { return target == ErrTooManyConnections }

// maxRefusalLine bounds the refusal line; the daemon's is under 100 bytes.
const maxRefusalLine = 512

// refusalConn turns the line a refusing daemon writes before it closes the
// connection into a *refusedError, from Read and from a Write that finds the
// connection closed. Without it the NDJSON reader would fail to decode the
// line and net/http would call it a malformed response, or either would
// report only the close (a broken pipe) when the request's write fails
// before the answer is read.
//
// The refusal is the first byte the daemon sends, and no answer of either
// framing begins like it ('{' or "HTTP/"), so only the first read is looked
// at. That read is made under mu: net/http reads in a goroutine of its own
// while it writes, and a failed write then waits for that read's verdict
// rather than racing it for the line.
type refusalConn struct {
	net.Conn
	mu      sync.Mutex  // held through the first read
	checked atomic.Bool // the first read is done; refused is final
	refused error
}

func (c *refusalConn) Read(p []byte) (int, error) {
	if !c.checked.Load() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.checked.Load() {
			return c.firstRead(p)
		}
	}
	if c.refused != nil {
		return 0, c.refused
	}
	return c.Conn.Read(p)
}

func (c *refusalConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && isClosed(err) {
		c.mu.Lock()
		if !c.checked.Load() {
			// Nobody is reading: read the verdict here. What is read is
			// dropped whatever it is, as the failed write has already
			// broken the exchange.
			var buf [maxRefusalLine]byte
			c.firstRead(buf[:])
		}
		c.mu.Unlock()
		if c.refused != nil {
			return n, c.refused
		}
	}
	return n, err
}

// firstRead reads the connection's first bytes into p and, when they are a
// refusal, reads the whole line and records it. c.mu is held.
func (c *refusalConn) firstRead(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n == 0 {
		if err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
			return n, err // a timeout, say: the verdict is still to come
		}
		c.checked.Store(true)
		return n, err
	}
	defer c.checked.Store(true)
	if p[0] != apitype.TooManyConnections[0] {
		return n, err
	}
	line := append([]byte(nil), p[:n]...)
	var buf [128]byte
	for err == nil && bytes.IndexByte(line, '\n') < 0 && len(line) < maxRefusalLine {
		n, err = c.Conn.Read(buf[:])
		line = append(line, buf[:n]...)
	}
	line, _, _ = bytes.Cut(line, []byte("\n"))
	if !bytes.HasPrefix(line, []byte(apitype.TooManyConnections)) {
		c.refused = fmt.Errorf("not an answer from revokd: %q", line)
	} else {
		c.refused = &refusedError{msg: strings.TrimPrefix(string(line), "revokd: ")}
	}
	return 0, c.refused
}
