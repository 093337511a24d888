package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/testwait"
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

// readToClose returns what the server sent on c before it closed it. A
// reset counts as a close: the server may close with the client's request
// still unread.
func readToClose(t *testing.T, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read until the server closes: got %q, then %v", b, err)
	}
	return string(b)
}

// fillReserve takes the slots past the cap that the test's own uid (root,
// or the daemon's) may use, so that the next connection meets the cap.
func fillReserve(t *testing.T, path string) {
	t.Helper()
	for range ExemptReserve {
		if got := dialNDJSON(t, path).roundTrip(`{"op":"status"}`); !strings.HasPrefix(got, "{") {
			t.Fatalf("a connection within the reserve: got %q", got)
		}
	}
}

func TestConnectionCap(t *testing.T) {
	ts := startServer(t, Config{MaxConns: 1})
	// A full round trip proves the first connection holds the one slot.
	first := dialNDJSON(t, ts.path)
	if got := first.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Fatalf("first connection: got %q", got)
	}
	fillReserve(t, ts.path)
	// Over the cap, either framing's client reads why before the close,
	// whether it has sent its request or not.
	const want = "revokd: too many connections (cap 1)\n"
	for _, req := range []string{
		`{"op":"validate","token":"good"}` + "\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"",
	} {
		c := dial(t, ts.path)
		io.WriteString(c, req)
		if got := readToClose(t, c); got != want {
			t.Errorf("over the cap, after sending %q: got %q, want %q", req, got, want)
		}
	}
	first.c.Close()
	// The slot comes back once the server has seen the close: poll until a
	// new connection is served.
	deadline := testwait.Deadline(t)
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
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("the server kept a connection that never reads its answers")
	}
}

// logRecorder keeps the log records a server writes.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// matching returns the records whose message contains msg, each as its
// message and attributes.
func (l *logRecorder) matching(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, r := range l.records {
		if !strings.Contains(r.Message, msg) {
			continue
		}
		m := map[string]any{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.Any()
			return true
		})
		out = append(out, m)
	}
	return out
}

func TestRefusalsAreLoggedOncePerSecond(t *testing.T) {
	logs := &logRecorder{}
	clock := clocktest.New(t0)
	ts := startServer(t, Config{MaxConns: 1, Logger: slog.New(logs), Clock: clock})
	first := dialNDJSON(t, ts.path)
	first.roundTrip(`{"op":"status"}`)
	fillReserve(t, ts.path)
	// The refusal is logged before its line is written, so once the client
	// has read the line the log holds whatever the server will log for it.
	refuseOne := func() {
		t.Helper()
		if got := readToClose(t, dial(t, ts.path)); !strings.HasPrefix(got, "revokd: too many connections") {
			t.Fatalf("over the cap: got %q, want the refusal line", got)
		}
	}
	steps := []struct {
		name       string
		advance    time.Duration
		refusals   int
		wantLogged int
	}{
		{name: "first refusal is logged, the rest of the second is not", refusals: 3, wantLogged: 1},
		{name: "still within the second", advance: time.Second - time.Nanosecond, refusals: 1, wantLogged: 1},
		{name: "a second later, one more line", advance: time.Nanosecond, refusals: 2, wantLogged: 2},
	}
	for _, st := range steps {
		clock.Add(st.advance)
		for range st.refusals {
			refuseOne()
		}
		if got := logs.matching("connection refused"); len(got) != st.wantLogged {
			t.Fatalf("%s: %d refusals logged, want %d: %v", st.name, len(got), st.wantLogged, got)
		}
	}
	last := logs.matching("connection refused")[1]
	if last["cap"] != int64(1) || last["suppressed"] != int64(3) {
		t.Errorf("second log line: got %v, want cap 1 and 3 suppressed", last)
	}
}

func TestBlankLinesDoNotKeepAConnectionAlive(t *testing.T) {
	// Blank lines get no answer and are no request: a client sending only
	// newlines is idle, and is cut off after IdleTimeout however often it
	// sends them. The client's pace is a tenth of the timeout.
	const timeout = 200 * time.Millisecond
	ts := startServer(t, Config{IdleTimeout: timeout})
	nc := dialNDJSON(t, ts.path)
	if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Fatalf("got %q", got)
	}
	closed := make(chan error, 1)
	go func() { closed <- readUntilClosed(nc.c) }()
	tick := time.NewTicker(timeout / 10)
	defer tick.Stop()
	for blanks := []string{"\n", " \t\r\n", " "}; ; {
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err) // the connection's deadline passed first
			}
			return
		case <-tick.C:
			// A write may fail once the server has hung up; the reader
			// reports that.
			io.WriteString(nc.c, blanks[0])
			blanks = append(blanks[1:], blanks[0])
		}
	}
}

func TestConnSlots(t *testing.T) {
	const daemonUID = 1000
	// step acquires a slot for peer (release false) and wants the refusal
	// line ("" for a slot), or gives peer's slot back.
	type step struct {
		peer    Peer
		release bool
		want    string
	}
	take := func(uid int, want string) step { return step{peer: Peer{UID: uid, Known: true}, want: want} }
	give := func(uid int) step { return step{peer: Peer{UID: uid, Known: true}, release: true} }
	unknown := step{peer: Peer{}}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{name: "default share is half the cap", cfg: Config{MaxConns: 4}, steps: []step{
			take(7, ""), take(7, ""), take(7, "revokd: too many connections from uid 7 (cap 2)\n"), take(8, ""),
		}},
		{name: "cap of one leaves a share of one", cfg: Config{MaxConns: 1}, steps: []step{
			take(7, ""), take(8, "revokd: too many connections (cap 1)\n"),
		}},
		{name: "share above the cap is the cap", cfg: Config{MaxConns: 2, MaxConnsPerUID: 5}, steps: []step{
			take(7, ""), take(7, ""), take(7, "revokd: too many connections (cap 2)\n"),
		}},
		{name: "root and the daemon's uid are exempt from the share", cfg: Config{MaxConns: 4, MaxConnsPerUID: 1}, steps: []step{
			take(0, ""), take(0, ""), take(daemonUID, ""), take(daemonUID, ""),
		}},
		{name: "exempt uids get in past a full cap, up to the reserve", cfg: Config{MaxConns: 2}, steps: append(
			[]step{take(7, ""), take(8, ""), take(9, "revokd: too many connections (cap 2)\n")},
			append(slices.Repeat([]step{take(0, "")}, ExemptReserve), take(daemonUID, "revokd: too many connections (cap 2)\n"))...,
		)},
		{name: "unknown credentials count only against the cap", cfg: Config{MaxConns: 3, MaxConnsPerUID: 1}, steps: []step{
			unknown, unknown, unknown,
		}},
		{name: "a released slot is the uid's again", cfg: Config{MaxConns: 4, MaxConnsPerUID: 1}, steps: []step{
			take(7, ""), take(7, "revokd: too many connections from uid 7 (cap 1)\n"), give(7), take(7, ""),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := limitsOf(tc.cfg)
			s := newConnSlots(lim.maxConns, lim.maxConnsPerUID, 0, daemonUID)
			for i, st := range tc.steps {
				if st.release {
					s.release(st.peer)
					continue
				}
				got := ""
				if r, ok := s.acquire(st.peer); !ok {
					got = r.line()
				}
				if got != st.want {
					t.Errorf("step %d, uid %d: got %q, want %q", i, st.peer.UID, got, st.want)
				}
			}
		})
	}
}
