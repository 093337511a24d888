package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// startEcho serves the transport ceiling: read a line, answer a canned line,
// flushing only when no input is buffered, as serveNDJSON does.
func startEcho(b *testing.B, answer []byte) string {
	path := filepath.Join(shortDir(b), "echo.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br, bw := bufio.NewReaderSize(c, 16<<10), bufio.NewWriterSize(c, 16<<10)
				for {
					if _, err := br.ReadSlice('\n'); err != nil {
						return
					}
					bw.Write(answer)
					if br.Buffered() == 0 && bw.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return path
}

// pingPong runs b.N request/answer round trips over parallel connections,
// each waiting for its answer before sending the next request.
func pingPong(b *testing.B, path string, req, want []byte) {
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("unix", path)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Error(err)
				return
			}
			if !bytes.Equal(line, want) {
				b.Errorf("got %q, want %q", line, want)
				return
			}
		}
	})
}

// BenchmarkNDJSONValidate compares a validate over the daemon's NDJSON
// framing with a bare echo of an answer of the same size on the same kind
// of socket: the ratio of the two is the framing's overhead.
func BenchmarkNDJSONValidate(b *testing.B) {
	req := []byte(`{"op":"validate","token":"revoked"}` + "\n")
	answer := []byte(`{"active":false,"reason":"revoked"}` + "\n")
	b.Run("echo", func(b *testing.B) {
		pingPong(b, startEcho(b, answer), req, answer)
	})
	b.Run("revokd", func(b *testing.B) {
		pingPong(b, startServer(b, Config{}).path, req, answer)
	})

	// The same pair with a real pipeline and an HS256 token on a
	// verified-cache hit.
	f := newServiceFixture(b, 0)
	tok := mint(b, "alice", "j-1", t0)
	hreq := []byte(`{"op":"validate","token":"` + tok + `"}` + "\n")
	hanswer := append(f.svc.Validate(tok).AppendJSON(nil), '\n')
	b.Run("echo-hs256", func(b *testing.B) {
		pingPong(b, startEcho(b, hanswer), hreq, hanswer)
	})
	b.Run("revokd-hs256", func(b *testing.B) {
		pingPong(b, startServer(b, Config{Backend: f.svc}).path, hreq, hanswer)
	})
}

// BenchmarkNDJSONLine measures the server's own work per validate line,
// without the socket: decoding, the backend call, encoding and metrics.
func BenchmarkNDJSONLine(b *testing.B) {
	f := newServiceFixture(b, 0)
	tok := mint(b, "alice", "j-1", t0)
	tests := []struct {
		name    string
		backend Backend
		line    string
	}{
		{name: "fake", backend: newFake(), line: `{"op":"validate","token":"revoked"}`},
		{name: "hs256-hit", backend: f.svc, line: `{"op":"validate","token":"` + tok + `"}`},
		{name: "hs256-hit-escaped", backend: f.svc, line: `{"op":"validate","token":"` + tok + `","x":1}`},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			s := NewServer(Config{Backend: tc.backend})
			line := []byte(tc.line)
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				buf = s.ndjsonLine(nil, buf[:0], line)
			}
			if bytes.Contains(buf, []byte(`"error"`)) {
				b.Fatalf("answer is an error: %s", buf)
			}
		})
	}
}

// BenchmarkNDJSONRatio alternates blocks of sequential round trips on one
// echo connection and one daemon connection, so that a noisy machine slows
// both alike, and reports the daemon's time over the echo's as
// "revokd/echo" (1.0 means no framing overhead).
func BenchmarkNDJSONRatio(b *testing.B) {
	f := newServiceFixture(b, 0)
	tok := mint(b, "alice", "j-1", t0)
	tests := []struct {
		name    string
		backend Backend
		token   string
	}{
		{name: "fake", backend: newFake(), token: "revoked"},
		{name: "hs256-hit", backend: f.svc, token: tok},
		{name: "fake-hs256-answer", backend: fakeWith(tok, f.svc.Validate(tok)), token: tok},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			req := []byte(`{"op":"validate","token":"` + tc.token + `"}` + "\n")
			answer := append(tc.backend.Validate(tc.token).AppendJSON(nil), '\n')
			ratio(b, req, answer, startServer(b, Config{Backend: tc.backend}).path)
		})
	}
	// The load tool's shape: 8 connections at once, over 1000 tokens.
	b.Run("hs256-hit-1000tokens-8conns", func(b *testing.B) {
		xs := make([]roundTrip, 1000)
		for i := range xs {
			tok := mint(b, fmt.Sprintf("user-%04d", i), fmt.Sprintf("j-%04d", i), t0)
			xs[i] = roundTrip{
				req:    []byte(`{"op":"validate","token":"` + tok + `"}` + "\n"),
				answer: append(f.svc.Validate(tok).AppendJSON(nil), '\n'),
			}
		}
		ratioConns(b, xs, startServer(b, Config{Backend: f.svc}).path, 8)
	})
}

// fakeWith is a fake that answers tok with a result the pipeline made.
func fakeWith(tok string, res pipeline.Result) *fakeBackend {
	f := newFake()
	f.tokens[tok] = res
	return f
}

func ratio(b *testing.B, req, answer []byte, path string) {
	ratioConns(b, []roundTrip{{req: req, answer: answer}}, path, 1)
}

// roundTrip is one request line and the answer line it must get.
type roundTrip struct{ req, answer, echoAnswer []byte }

// ratioConns is ratio over conns connections at once, each one ping-pong
// and cycling through the exchanges from its own offset, as the load tool
// runs: the daemon's connection goroutines then run on both cores together,
// and many tokens make its per-token state compete for the CPU caches. The
// echo answers every request with the first round trip's answer, so answers
// should all be the same size.
func ratioConns(b *testing.B, xs []roundTrip, path string, conns int) {
	dialAll := func(path string) []*ndjsonConn {
		cs := make([]*ndjsonConn, conns)
		for i := range cs {
			cs[i] = dialNDJSON(b, path)
		}
		return cs
	}
	for i := range xs {
		// The echo's answer, copied for each request, so that checking it
		// costs the client what checking the daemon's answer does.
		xs[i].echoAnswer = bytes.Clone(xs[0].answer)
	}
	echo, daemon := dialAll(startEcho(b, xs[0].answer)), dialAll(path)
	roundTrips := func(cs []*ndjsonConn, n int, isEcho bool) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for i, nc := range cs {
			m := n / len(cs)
			if i < n%len(cs) {
				m++
			}
			wg.Go(func() {
				next := i * len(xs) / len(cs)
				for range m {
					x := xs[next]
					next = (next + 1) % len(xs)
					want := x.answer
					if isEcho {
						want = x.echoAnswer
					}
					nc.c.Write(x.req)
					line, err := nc.r.ReadSlice('\n')
					if err != nil || !bytes.Equal(line, want) {
						b.Errorf("got %q, %v; want %q", line, err, want)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	const blocks = 20
	var tEcho, tDaemon time.Duration
	b.ResetTimer()
	for i := range blocks {
		n := b.N / blocks
		if i < b.N%blocks {
			n++
		}
		tEcho += roundTrips(echo, n, true)
		tDaemon += roundTrips(daemon, n, false)
	}
	b.ReportMetric(float64(tDaemon)/float64(tEcho), "revokd/echo")
	b.ReportMetric(float64(tEcho.Nanoseconds())/float64(b.N), "echo-ns/rt")
	b.ReportMetric(float64(tDaemon.Nanoseconds())/float64(b.N), "revokd-ns/rt")
}

// BenchmarkHTTPRatio is BenchmarkNDJSONRatio for HTTP/1.1 keep-alive: the
// baseline is a bare net/http server that reads the body and writes a
// canned answer of the same size.
func BenchmarkHTTPRatio(b *testing.B) {
	f := newServiceFixture(b, 0)
	tok := mint(b, "alice", "j-1", t0)
	body := `{"token":"` + tok + `"}`
	req := []byte("POST /v1/validate HTTP/1.1\r\nHost: revokd\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	answer := append(f.svc.Validate(tok).AppendJSON(nil), '\n')

	echoPath := filepath.Join(shortDir(b), "echo.sock")
	ln, err := net.Listen("unix", echoPath)
	if err != nil {
		b.Fatal(err)
	}
	echo := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(apitype.VersionHeader, "test-1")
		w.Write(answer)
	})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		echo.Serve(ln)
	}()
	b.Cleanup(func() {
		echo.Close()
		<-served
	})
	daemonPath := startServer(b, Config{Backend: f.svc}).path

	open := func(path string) (net.Conn, *bufio.Reader) {
		c := dial(b, path)
		c.SetDeadline(time.Time{})
		return c, bufio.NewReader(c)
	}
	ec, er := open(echoPath)
	dc, dr := open(daemonPath)
	roundTrips := func(c net.Conn, r *bufio.Reader, n int) time.Duration {
		start := time.Now()
		for range n {
			c.Write(req)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, answer) {
				b.Fatalf("got %q, %v; want %q", got, err, answer)
			}
		}
		return time.Since(start)
	}
	const blocks = 20
	var tEcho, tDaemon time.Duration
	b.ResetTimer()
	for i := range blocks {
		n := b.N / blocks
		if i < b.N%blocks {
			n++
		}
		tEcho += roundTrips(ec, er, n)
		tDaemon += roundTrips(dc, dr, n)
	}
	b.ReportMetric(float64(tDaemon)/float64(tEcho), "revokd/echo")
	b.ReportMetric(float64(tEcho.Nanoseconds())/float64(b.N), "echo-ns/rt")
	b.ReportMetric(float64(tDaemon.Nanoseconds())/float64(b.N), "revokd-ns/rt")
}
