package client_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

// ndRequest is a validate line as the fake reads it: the op and the
// request body's fields beside it.
type ndRequest struct {
	apitype.NDJSONOp
	apitype.ValidateRequest
}

// ndjsonServer is a scriptable NDJSON peer on a real Unix socket. For each
// request line it calls answer; an empty line means "close without
// answering", and close means "close after answering".
type ndjsonServer struct {
	path    string
	ln      net.Listener
	accepts atomic.Int64

	mu     sync.Mutex
	answer func(req ndRequest) (line string, close bool)
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startNDJSON(t *testing.T, answer func(ndRequest) (string, bool)) *ndjsonServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nd.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &ndjsonServer{path: path, ln: ln, answer: answer, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	return s
}

func (s *ndjsonServer) setAnswer(answer func(ndRequest) (string, bool)) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

func (s *ndjsonServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *ndjsonServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req ndRequest
		if err := json.Unmarshal(line, &req); err != nil {
			c.Write([]byte(`{"error":{"code":"bad_request","message":"bad JSON"}}` + "\n"))
			continue
		}
		s.mu.Lock()
		answer := s.answer
		s.mu.Unlock()
		out, closeAfter := answer(req)
		if out == "" {
			return
		}
		if _, err := c.Write([]byte(out + "\n")); err != nil || closeAfter {
			return
		}
	}
}

func (s *ndjsonServer) stop() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// startHTTP serves h over HTTP on a real Unix socket and returns its path.
func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "http.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return path
}

// newClient returns a client for path that is closed when the test ends.
func newClient(t *testing.T, path string) *client.Client {
	c := &client.Client{Socket: path}
	t.Cleanup(func() { c.Close() })
	return c
}
