package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/testwait"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)

// goodAnswer is the validate answer for the fake's "good" token.
var goodAnswer = fmt.Sprintf(`{"active":true,"sub":"alice","jti":"j1","exp":%d}`, t0.Add(time.Hour).Unix())

// fakeBackend is a map-driven Backend: tokens not in the map are malformed.
type fakeBackend struct {
	mu      sync.Mutex
	tokens  map[string]pipeline.Result
	ready   bool
	revokes []apitype.RevokeRequest
	expects []map[string]string // ValidateExpect's, in order
	err     error               // returned by the writes when set

	// When entered is set, Revoke signals it and then waits for release, so
	// a test can hold a request in flight.
	entered chan struct{}
	release chan struct{}
}

func newFake() *fakeBackend {
	return &fakeBackend{
		ready: true,
		tokens: map[string]pipeline.Result{
			"good":    {Token: &pipeline.Verified{Subject: "alice", JTI: "j1", ID: "j1", Expires: t0.Add(time.Hour)}},
			"revoked": {Reason: apitype.ReasonRevoked, Token: &pipeline.Verified{Subject: "bob"}},
			"banned":  {Reason: apitype.ReasonSubjectRevoked, Until: t0.Add(24 * time.Hour)},
			// Signed and current, but the replica cannot be trusted yet.
			"unchecked": {Reason: apitype.ReasonUnavailable, Token: &pipeline.Verified{Subject: "carol"}},
		},
	}
}

func (f *fakeBackend) Validate(token string) pipeline.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.tokens[token]; ok {
		return r
	}
	return pipeline.Result{Reason: apitype.ReasonMalformed}
}

// ValidateExpect records expect and answers as Validate: the fake judges no
// claims.
func (f *fakeBackend) ValidateExpect(token string, expect map[string]string) pipeline.Result {
	f.mu.Lock()
	f.expects = append(f.expects, expect)
	f.mu.Unlock()
	return f.Validate(token)
}

func (f *fakeBackend) Revoke(ctx context.Context, req apitype.RevokeRequest) (apitype.RevokeResponse, error) {
	f.mu.Lock()
	f.revokes = append(f.revokes, req)
	entered, release, err := f.entered, f.release, f.err
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return apitype.RevokeResponse{}, ctx.Err()
		}
	}
	if err != nil {
		return apitype.RevokeResponse{}, err
	}
	return apitype.RevokeResponse{Stored: f.Validate(req.Token).Active()}, nil
}

func (f *fakeBackend) RevokeAll(ctx context.Context, req apitype.RevokeAllRequest) (apitype.RevokeAllResponse, error) {
	if f.err != nil {
		return apitype.RevokeAllResponse{}, f.err
	}
	claim, value := req.Claim, req.Value
	if req.Sub != "" {
		claim, value = "sub", req.Sub
	}
	before := t0
	if req.Before != nil {
		before = *req.Before
	}
	return apitype.RevokeAllResponse{Claim: claim, Value: value, Before: before}, nil
}

func (f *fakeBackend) Unban(ctx context.Context, req apitype.UnbanRequest) (apitype.UnbanResponse, error) {
	if f.err != nil {
		return apitype.UnbanResponse{}, f.err
	}
	return apitype.UnbanResponse{Claim: "sub", Value: req.Sub, Before: t0}, nil
}

func (f *fakeBackend) Status() apitype.StatusResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return apitype.StatusResponse{Ready: f.ready, Source: "fake", Cutoffs: 2, Denials: 3}
}

func (f *fakeBackend) Readiness() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return errNotReady
	}
	return nil
}

// shortDir is a fresh directory with a short path: sun_path holds 108 bytes
// and t.TempDir's names grow with the test's.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testServer is a Server serving on a real socket until the test ends.
type testServer struct {
	*Server
	path   string
	cancel context.CancelFunc
	errc   chan error
}

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Backend == nil {
		cfg.Backend = newFake()
	}
	if cfg.Version == "" {
		cfg.Version = "test-1"
	}
	path := filepath.Join(shortDir(t), "s.sock")
	ln, err := Listen(path, 0o660)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: NewServer(cfg), path: path, cancel: cancel, errc: make(chan error, 1)}
	go func() { ts.errc <- ts.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// stop cancels Serve's context and waits for it to return; it may be called
// more than once.
func (ts *testServer) stop() error {
	ts.cancel()
	err, ok := <-ts.errc
	if ok {
		close(ts.errc)
	}
	return err
}

func dial(t testing.TB, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(testwait.Deadline(t))
	return c
}

// ndjsonConn is a raw NDJSON client.
type ndjsonConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialNDJSON(t testing.TB, path string) *ndjsonConn {
	c := dial(t, path)
	return &ndjsonConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (n *ndjsonConn) send(s string) {
	n.t.Helper()
	if _, err := io.WriteString(n.c, s); err != nil {
		n.t.Fatalf("write: %v", err)
	}
}

func (n *ndjsonConn) line() string {
	n.t.Helper()
	l, err := n.r.ReadString('\n')
	if err != nil {
		n.t.Fatalf("read answer: %v (got %q)", err, l)
	}
	return l
}

func (n *ndjsonConn) roundTrip(req string) string {
	n.t.Helper()
	n.send(req + "\n")
	return n.line()
}

// httpClient talks HTTP over the socket at path.
func httpClient(t testing.TB, path string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Until(testwait.Deadline(t))}
}

// errorCode returns the code of a JSON error answer, or a description of why
// it is not one.
func errorCode(b []byte) string {
	var e apitype.ErrorResponse
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Sprintf("not JSON (%v): %q", err, b)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		return fmt.Sprintf("not an error answer: %q", b)
	}
	return e.Error.Code
}

// waitClosed reads from c until the server closes it; it fails the test if
// that does not happen before the connection's deadline.
func waitClosed(t testing.TB, c net.Conn) {
	t.Helper()
	if err := readUntilClosed(c); err != nil {
		t.Fatal(err)
	}
}

// readUntilClosed is waitClosed for goroutines other than the test's.
func readUntilClosed(c net.Conn) error {
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("server did not close the connection")
	}
	return nil
}

func doHTTP(t testing.TB, hc *http.Client, method, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://revokd"+url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

var (
	errUnavailableForTest = fmt.Errorf("write: %w", cache.ErrUnavailable)
	errPlainForTest       = errors.New("disk on fire")
)

// respReader reads HTTP responses from a raw connection.
type respReader struct{ r *bufio.Reader }

func newRespReader(c net.Conn) *respReader { return &respReader{bufio.NewReader(c)} }

func (rr *respReader) next(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(rr.r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}
