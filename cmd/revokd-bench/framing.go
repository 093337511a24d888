package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// framing is how requests and answers travel on a connection.
type framing int

const (
	framingNDJSON framing = iota // one JSON object per line, pipelined
	framingHTTP                  // HTTP/1.1 with keep-alive
)

func parseFraming(s string) (framing, error) {
	switch s {
	case "ndjson":
		return framingNDJSON, nil
	case "http":
		return framingHTTP, nil
	}
	return 0, fmt.Errorf("unknown framing %q (want ndjson or http)", s)
}

func (f framing) String() string {
	if f == framingHTTP {
		return "http"
	}
	return "ndjson"
}

// appendValidate appends one validate request for token. Tokens are
// base64url and dots, so they go into JSON strings without escaping.
//
// The HTTP request is written by hand rather than through net/http's
// client: the load generator shares the machine's two cores with the
// server, and every microsecond it spends is taken from the server.
func (f framing) appendValidate(b []byte, token string) []byte {
	if f == framingHTTP {
		b = append(b, "POST /v1/validate HTTP/1.1\r\nHost: revokd\r\nContent-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(token)+len(`{"token":""}`)), 10)
		b = append(b, "\r\n\r\n"...)
		b = append(b, `{"token":"`...)
		b = append(b, token...)
		return append(b, `"}`...)
	}
	b = append(b, `{"op":"validate","token":"`...)
	b = append(b, token...)
	return append(b, "\"}\n"...)
}

// complete reports whether r already holds a whole answer, so reading it
// will not block. Only NDJSON can tell cheaply; for HTTP it says no, which
// only costs an earlier flush.
func (f framing) complete(r *bufio.Reader) bool {
	if f == framingHTTP {
		return false
	}
	n := r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// readAnswer reads one answer and returns its status (200 for every NDJSON
// line) and body. The body aliases r's buffer or scratch and is valid until
// the next read.
func (f framing) readAnswer(r *bufio.Reader, scratch *[]byte) (int, []byte, error) {
	if f == framingHTTP {
		return readHTTPResponse(r, scratch)
	}
	line, err := readLine(r, scratch)
	return 200, line, err
}

// readLine returns one line without its newline, also when it is longer than
// r's buffer.
func readLine(r *bufio.Reader, scratch *[]byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	buf := append((*scratch)[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.ReadSlice('\n')
		buf = append(buf, line...)
	}
	*scratch = buf
	if err != nil {
		return nil, err
	}
	return buf[:len(buf)-1], nil
}

var errBadResponse = errors.New("malformed HTTP response")

// readHTTPResponse reads one HTTP/1.1 response with a Content-Length or a
// chunked body.
func readHTTPResponse(r *bufio.Reader, scratch *[]byte) (int, []byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, nil, fmt.Errorf("status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: status %q", errBadResponse, line[9:12])
	}
	length, chunked := -1, false
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, nil, fmt.Errorf("header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, fmt.Errorf("%w: header %q", errBadResponse, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("%w: content-length %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	buf := (*scratch)[:0]
	switch {
	case chunked:
		buf, err = readChunked(r, buf)
	case length >= 0:
		if cap(buf) < length {
			buf = make([]byte, length)
		}
		buf = buf[:length]
		_, err = io.ReadFull(r, buf)
	default:
		err = fmt.Errorf("%w: neither length nor chunked (close-delimited bodies are not supported)", errBadResponse)
	}
	*scratch = buf
	if err != nil {
		return 0, nil, fmt.Errorf("body: %w", err)
	}
	return status, buf, nil
}

func readChunked(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 32)
		if err != nil || size < 0 {
			return buf, fmt.Errorf("%w: chunk size %q", errBadResponse, line)
		}
		if size == 0 {
			for { // trailers up to the empty line
				line, err = r.ReadSlice('\n')
				if err != nil {
					return buf, err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return buf, nil
				}
			}
		}
		start := len(buf)
		buf = append(buf, make([]byte, size)...)
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return buf, err
		}
		if _, err := r.Discard(2); err != nil {
			return buf, err
		}
	}
}

// answer is what a validate answer said.
type answer int

const (
	answerActive answer = iota
	answerInactive
	answerError // a request error, or anything that is not a validate answer
)

// classify reads only the start of a body: every validate answer opens with
// its "active" field, and a request error with "error".
func classify(status int, body []byte) answer {
	if status != 200 {
		return answerError
	}
	head := body[:min(len(body), 48)]
	switch {
	case bytes.Contains(head, []byte(`"active":true`)):
		return answerActive
	case bytes.Contains(head, []byte(`"active":false`)):
		return answerInactive
	}
	return answerError
}
