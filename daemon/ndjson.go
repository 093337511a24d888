package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// ndjsonWriteBuffer holds many pipelined answers between flushes.
const ndjsonWriteBuffer = 16 << 10

// deadline keeps a connection's read or write deadline at least 7/8 of
// its timeout ahead of now, without moving it on every request: a ping-pong
// client would otherwise pay a poller timer update per request and per
// answer. force sets a deadline of another kind (a line's); refresh pulls a
// deadline that lies further ahead than its timeout back in.
type deadline struct {
	set func(time.Time) error
	at  time.Time
}

func (d *deadline) refresh(now time.Time, timeout time.Duration) {
	if ahead := d.at.Sub(now); ahead < timeout-timeout/8 || ahead > timeout {
		d.force(now.Add(timeout))
	}
}

func (d *deadline) force(t time.Time) {
	d.at = t
	d.set(t)
}

// serveNDJSON answers one JSON request per line, in order. Answers are
// flushed only when no more input is buffered, so a pipelining client gets
// a batch of answers per write and a ping-pong client one write per request.
//
// The write deadline is kept ahead before every write to the socket, so a
// client that stops reading is cut off after about WriteTimeout. Both
// deadlines move at the flush, from one reading of the clock: a ping-pong
// request then reads the clock once here.
func (s *Server) serveNDJSON(c *conn) {
	br := c.br
	rd := &deadline{set: c.Conn.SetReadDeadline}
	wd := &deadline{set: c.Conn.SetWriteDeadline}
	bw := bufio.NewWriterSize(c.Conn, ndjsonWriteBuffer)
	// Every write to the socket moves the write deadline first: flush,
	// and write when an answer does not fit and bufio writes at once.
	flush := func(now time.Time) error {
		wd.refresh(now, s.lim.writeTimeout)
		return bw.Flush()
	}
	write := func(answer []byte) {
		if len(answer) > bw.Available() {
			wd.refresh(time.Now(), s.lim.writeTimeout)
		}
		bw.Write(answer)
	}
	var long []byte // assembles lines longer than the read buffer
	// The idle deadline runs from the last request, not from the last byte:
	// a blank line is no request, or a client could hold its slot forever
	// with a newline now and then. idleAt is that deadline; a line's own
	// deadline replaces it only while the line is read.
	var idleAt time.Time
	requested := true // the connect counts as the first request
	for {
		if br.Buffered() == 0 {
			now := time.Now()
			if bw.Buffered() > 0 && flush(now) != nil {
				return
			}
			// Shutdown may have expired the deadline meanwhile; checking done
			// after this covers that case whether or not this moved it.
			if requested {
				rd.refresh(now, s.lim.idleTimeout)
				idleAt, requested = rd.at, false
			} else if !rd.at.Equal(idleAt) {
				rd.force(idleAt) // only blank lines since the last request
			}
			if s.shuttingDown() {
				return
			}
			if _, err := br.Peek(1); err != nil {
				return
			}
		}
		// A line not yet complete in the buffer must complete within
		// LineTimeout, however slowly its bytes trickle in.
		if buf, _ := br.Peek(br.Buffered()); bytes.IndexByte(buf, '\n') < 0 {
			rd.force(time.Now().Add(s.lim.lineTimeout))
			if s.shuttingDown() {
				flush(time.Now())
				return
			}
		}
		line, tooLarge, err := readLine(br, s.lim.maxBodyBytes, &long)
		if err != nil && !errors.Is(err, io.EOF) {
			// Timeout or reset mid-line: the partial line is no request.
			flush(time.Now())
			return
		}
		switch {
		case tooLarge:
			write(s.ndjsonError(bw.AvailableBuffer(), opNone,
				fmt.Errorf("%w: line exceeds %d bytes", ErrTooLarge, s.lim.maxBodyBytes)))
			requested = true
		case !blankLine(line):
			write(s.ndjsonLine(c, bw.AvailableBuffer(), line))
			requested = true
		}
		if err != nil { // EOF: the last line had no newline
			flush(time.Now())
			return
		}
	}
}

// blankLine reports whether line holds nothing but JSON whitespace (RFC 8259
// §2; the newline is already gone). Such a line is skipped without an answer.
// bytes.TrimSpace would not do: it also trims \v, \f, U+0085 and U+00A0,
// which JSON does not allow, and a line of those must get its error answer,
// or a pipelining client waits for an answer that never comes and falls out
// of step.
func blankLine(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// readLine reads one line without its newline. A line of more than max
// bytes is read to its end and discarded, reporting tooLarge, so the
// connection stays in step; an oversized line of nothing but whitespace is
// still blank, and is reported as an empty line. The returned line is valid
// until the next call.
func readLine(br *bufio.Reader, max int64, long *[]byte) (line []byte, tooLarge bool, err error) {
	frag, err := br.ReadSlice('\n')
	if err == nil {
		// The common case: the whole line is in the buffer; no copy.
		line = frag[:len(frag)-1]
		if int64(len(line)) > max {
			return nil, !blankLine(line), nil
		}
		return line, false, nil
	}
	buf := (*long)[:0]
	blank := true // once tooLarge: whether every byte dropped was whitespace
	for {
		switch {
		case tooLarge:
			blank = blank && blankLine(bytes.TrimSuffix(frag, newline))
		case int64(len(buf)+len(frag)) > max+1: // +1: the newline may be in frag
			tooLarge = true
			blank = blankLine(buf) && blankLine(bytes.TrimSuffix(frag, newline))
			buf = buf[:0]
		default:
			buf = append(buf, frag...)
		}
		if err != bufio.ErrBufferFull {
			break
		}
		frag, err = br.ReadSlice('\n')
	}
	if cap(buf) <= 64<<10 { // keep a modest buffer for next time, not a 1 MiB one
		*long = buf
	}
	if tooLarge {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, !blank, err
		}
		return nil, false, err
	}
	if err == nil {
		buf = buf[:len(buf)-1]
	}
	if int64(len(buf)) > max {
		return nil, !blankLine(buf), err
	}
	return buf, false, err
}

var newline = []byte{'\n'}

// ndjsonLine answers one request line, appending the answer and a newline
// to b.
func (s *Server) ndjsonLine(c *conn, b []byte, line []byte) []byte {
	h := s.h
	// The fast scan knows only "op" and "token": a line with "expect" (or
	// anything else) is decoded in full below.
	if op, tok, ok := scanTokenObject(line); ok && string(op) == apitype.OpValidate && len(tok) > 0 {
		res := h.validateBytes(tok)
		h.m.result(res.Reason)
		h.m.validateOK.Inc()
		return append(res.AppendJSON(b), '\n')
	}
	op, req, err := decodeNDJSON(line)
	if err != nil {
		return s.ndjsonError(b, op, err)
	}
	ctx := s.baseCtx
	var answer any
	switch req := req.(type) {
	case apitype.ValidateRequest:
		if req.Token == "" {
			return s.ndjsonError(b, op, badRequest(`missing "token"`))
		}
		res := h.backend.ValidateExpect(req.Token, req.Expect)
		h.m.result(res.Reason)
		h.m.validateOK.Inc()
		return append(res.AppendJSON(b), '\n')
	case apitype.RevokeRequest:
		answer, err = h.revoke(ctx, c.peer, req)
	case apitype.RevokeAllRequest:
		answer, err = h.revokeAll(ctx, c.peer, req)
	case apitype.UnbanRequest:
		answer, err = h.unban(ctx, c.peer, req)
	case apitype.IssueRequest:
		answer, err = h.issue(ctx, c.peer, req)
	case apitype.RefreshRequest:
		answer, err = h.refresh(ctx, req)
	case statusRequest:
		answer = h.status()
	}
	if err != nil {
		return s.ndjsonError(b, op, err)
	}
	j, err := json.Marshal(answer)
	if err != nil {
		return s.ndjsonError(b, op, err)
	}
	h.m.request(op, nil)
	return append(append(b, j...), '\n')
}

// statusRequest is op status's request: it has no body.
type statusRequest struct{}

// decodeNDJSON reads a line's op, then decodes the whole line into that op's
// request struct: the one its HTTP route decodes its body into. A field
// added to a request struct so reaches its handler by either framing with
// no change here. The "op" member itself is unknown to the request structs,
// and ignored as any unknown member is. A line that names no known op, or
// does not decode, is counted under opNone, as HTTP counts a body it cannot
// route.
func decodeNDJSON(line []byte) (op string, req any, err error) {
	head, err := decodeRequest[apitype.NDJSONOp](line)
	if err != nil {
		return opNone, nil, err
	}
	switch head.Op {
	case apitype.OpValidate:
		req, err = decodeRequest[apitype.ValidateRequest](line)
	case apitype.OpRevoke:
		req, err = decodeRequest[apitype.RevokeRequest](line)
	case apitype.OpRevokeAll:
		req, err = decodeRequest[apitype.RevokeAllRequest](line)
	case apitype.OpUnban:
		req, err = decodeRequest[apitype.UnbanRequest](line)
	case apitype.OpIssue:
		req, err = decodeRequest[apitype.IssueRequest](line)
	case apitype.OpRefresh:
		req, err = decodeRequest[apitype.RefreshRequest](line)
	case apitype.OpStatus:
		req = statusRequest{}
	case "":
		return opNone, nil, badRequest(`missing "op"`)
	default:
		return opNone, nil, badRequest("unknown op %q", head.Op)
	}
	if err != nil {
		return opNone, nil, err
	}
	return head.Op, req, nil
}

// ndjsonError appends err's error line, and counts and logs it as the HTTP
// path does.
func (s *Server) ndjsonError(b []byte, op string, err error) []byte {
	s.h.m.request(op, err)
	if status, _ := errorOf(err); status >= 500 {
		s.log.Error("request failed", "op", op, "err", err)
	}
	b, _ = appendError(b, err)
	return append(b, '\n')
}
