package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// maxLine bounds one answer line. The daemon's answers are far smaller (a
// token is at most a few KiB); this only stops a runaway peer.
const maxLine = 4 << 20

// ndConn is one NDJSON connection. It carries one call at a time: the
// daemon answers in order, so a request line is always followed by its own
// answer line.
type ndConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte // request line, reused
}

// validateLine is the NDJSON line of op validate: the op and the fields of
// the route's request body side by side on one JSON object, as the daemon
// reads it. Embedding flattens both, so a field added to the body goes on
// the line with no change here.
type validateLine struct {
	apitype.NDJSONOp
	apitype.ValidateRequest
}

// errNoAnswer marks a connection that failed before any byte of the answer
// arrived (typically one the daemon closed while it sat idle in the pool).
var errNoAnswer = errors.New("connection closed before an answer")

// Validate asks the daemon whether token is good right now. An inactive
// token is not an error: the answer has Active false and a Reason. The error
// is an *Error when the daemon rejected the request or could not be reached.
//
// It runs over NDJSON on a pooled connection. A pooled connection found
// broken before any answer arrived is dropped and the call is made once more
// on a new connection; that is safe because validation changes nothing.
func (c *Client) Validate(ctx context.Context, token string) (apitype.ValidateResponse, error) {
	var line struct {
		apitype.ValidateResponse
		Error *apitype.ErrorBody `json:"error"`
	}
	req := validateLine{apitype.NDJSONOp{Op: apitype.OpValidate}, apitype.ValidateRequest{Token: token}}
	if err := c.callNDJSON(ctx, apitype.OpValidate, req, &line, func() *apitype.ErrorBody { return line.Error }); err != nil {
		return apitype.ValidateResponse{}, err
	}
	return line.ValidateResponse, nil
}

// callNDJSON sends req, a line of op, and decodes the answer line into out.
// errBody returns the error body decoded into out, if any. It must only be
// used for requests that are safe to send twice.
func (c *Client) callNDJSON(ctx context.Context, op string, req any, out any, errBody func() *apitype.ErrorBody) error {
	for attempt := 0; ; attempt++ {
		nc, reused, err := c.getConn(ctx)
		if err != nil {
			return unavailable("connect to revokd at "+c.socket(), err)
		}
		line, err := nc.exchange(ctx, req)
		if err != nil {
			nc.conn.Close()
			if reused && attempt == 0 && errors.Is(err, errNoAnswer) && ctx.Err() == nil {
				continue
			}
			return unavailable("revokd "+op, err)
		}
		if err := json.Unmarshal(line, out); err != nil {
			// The stream may be out of step: never reuse this connection.
			nc.conn.Close()
			return &Error{Code: apitype.CodeInternal, Message: fmt.Sprintf("decode %s answer: %v", op, err)}
		}
		c.putConn(nc)
		if eb := errBody(); eb != nil {
			return &Error{Status: statusForCode(eb.Code), Code: eb.Code, Message: eb.Message}
		}
		return nil
	}
}

// exchange writes one request line and reads its answer line. The returned
// slice is valid until the connection's next use.
func (nc *ndConn) exchange(ctx context.Context, req any) ([]byte, error) {
	if err := nc.armDeadline(ctx); err != nil {
		return nil, err
	}
	var stop func() bool
	if ctx.Done() != nil {
		// Cancellation without a deadline still has to unblock the read.
		stop = context.AfterFunc(ctx, func() { nc.conn.SetDeadline(time.Unix(1, 0)) })
	}
	line, err := nc.writeRead(req)
	if stop != nil && !stop() {
		// The cancellation fired: the deadline is poisoned and the answer,
		// if any, may be half read.
		if err == nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	if err == nil {
		err = nc.conn.SetDeadline(time.Time{})
	}
	return line, err
}

func (nc *ndConn) armDeadline(ctx context.Context) error {
	d, _ := ctx.Deadline()
	if err := nc.conn.SetDeadline(d); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	return nil
}

func (nc *ndConn) writeRead(req any) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	nc.buf = append(append(nc.buf[:0], b...), '\n')
	if _, err := nc.conn.Write(nc.buf); err != nil {
		return nil, fmt.Errorf("write request: %w: %w", errNoAnswer, err)
	}
	line, err := nc.readLine()
	if err != nil {
		return nil, err
	}
	return line, nil
}

func (nc *ndConn) readLine() ([]byte, error) {
	var long []byte // only for answers longer than the reader's buffer
	for {
		frag, err := nc.r.ReadSlice('\n')
		switch {
		case err == nil:
			if long != nil {
				return append(long, frag...), nil
			}
			return frag, nil
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, frag...)
			if len(long) > maxLine {
				return nil, fmt.Errorf("answer line over %d bytes", maxLine)
			}
		case len(long) == 0 && len(frag) == 0 && isClosed(err):
			return nil, fmt.Errorf("read answer: %w: %w", errNoAnswer, err)
		default:
			return nil, fmt.Errorf("read answer: %w", err)
		}
	}
}

// isClosed reports whether err says the peer closed or reset the connection,
// as opposed to a timeout.
func isClosed(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func (c *Client) getConn(ctx context.Context) (nc *ndConn, reused bool, err error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		nc = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return nc, true, nil
	}
	c.mu.Unlock()
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &ndConn{conn: conn, r: bufio.NewReaderSize(conn, 16<<10)}, false, nil
}

func (c *Client) putConn(nc *ndConn) {
	if nc.r.Buffered() > 0 {
		// Bytes nobody asked for: the stream is out of step.
		nc.conn.Close()
		return
	}
	c.mu.Lock()
	if len(c.idle) < c.maxIdle() {
		c.idle = append(c.idle, nc)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	nc.conn.Close()
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
