package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// The Redis baseline speaks just enough RESP (the Redis protocol) itself:
// one EXISTS per request, and SET to load the revoked tokens. A client
// library would be a new dependency for two commands.

// appendCommand encodes a command as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// appendExists encodes EXISTS key.
func appendExists(b []byte, key string) []byte {
	return appendCommand(b, "EXISTS", key)
}

// respError is an error reply from the server ("-ERR ...").
type respError string

func (e respError) Error() string { return "redis: " + string(e) }

var errRESP = errors.New("malformed RESP reply")

// readSimple reads one reply line and returns its type byte and text. An
// error reply comes back as a respError; bulk and array replies, which
// neither command gets, are refused.
func readSimple(r *bufio.Reader) (byte, []byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, nil, fmt.Errorf("read reply: %w", err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, nil, fmt.Errorf("%w: %q", errRESP, line)
	}
	kind, text := line[0], line[1:len(line)-2]
	switch kind {
	case '-':
		return 0, nil, respError(text)
	case '+', ':':
		return kind, text, nil
	}
	return 0, nil, fmt.Errorf("%w: unexpected reply type %q", errRESP, kind)
}

// readExists reads the integer reply to EXISTS: how many of the keys exist.
func readExists(r *bufio.Reader) (int64, error) {
	kind, text, err := readSimple(r)
	if err != nil {
		return 0, err
	}
	if kind != ':' {
		return 0, fmt.Errorf("%w: EXISTS answered %q", errRESP, text)
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: EXISTS count %q", errRESP, text)
	}
	return n, nil
}

// redisConn is one connection to Redis, used by one goroutine at a time.
type redisConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

// dialRedis connects to addr: a Unix socket path when it starts with "/",
// else host:port.
func dialRedis(addr string) (*redisConn, error) {
	network := "tcp"
	if len(addr) > 0 && addr[0] == '/' {
		network = "unix"
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial redis: %w", err)
	}
	return &redisConn{c: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

func (rc *redisConn) Close() error { return rc.c.Close() }

// Exists reports whether key exists: one round trip.
func (rc *redisConn) Exists(key string) (bool, error) {
	rc.buf = appendExists(rc.buf[:0], key)
	if _, err := rc.c.Write(rc.buf); err != nil {
		return false, fmt.Errorf("redis exists: %w", err)
	}
	n, err := readExists(rc.r)
	return n > 0, err
}

// SetPX sets key to value with a time to live.
func (rc *redisConn) SetPX(key, value string, ttl time.Duration) error {
	rc.buf = appendCommand(rc.buf[:0], "SET", key, value, "PX", strconv.FormatInt(max(1, ttl.Milliseconds()), 10))
	if _, err := rc.c.Write(rc.buf); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	kind, text, err := readSimple(rc.r)
	if err != nil {
		return err
	}
	if kind != '+' {
		return fmt.Errorf("%w: SET answered %q", errRESP, text)
	}
	return nil
}
