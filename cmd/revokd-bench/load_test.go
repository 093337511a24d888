package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func echoServer(t *testing.T, f framing, answer []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "e.sock")
	ln, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := serveEcho(ctx, ln, f, answer, quiet); err != nil {
			t.Errorf("echo: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return path
}

func TestLoadAgainstEcho(t *testing.T) {
	answer := cannedAnswer(300)
	if len(answer) != 300 {
		t.Fatalf("canned answer is %d bytes, want 300", len(answer))
	}
	tests := []struct {
		name  string
		f     framing
		conns int
		depth int
		max   int64
	}{
		{"ndjson one in flight", framingNDJSON, 2, 1, 500},
		{"ndjson pipelined", framingNDJSON, 3, 16, 2000},
		{"http", framingHTTP, 2, 1, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := echoServer(t, tc.f, answer)
			set := &wireSet{seen: encodeAll(tc.f, []string{"a.b.c", "d.e.f"})}
			feeders := make([]*feeder, tc.conns)
			for i := range feeders {
				feeders[i] = newFeeder(set, mix{Seen: 1}, true, i)
			}
			// The run ends on the request cap; the duration is only a bound.
			cfg := loadConfig{framing: tc.f, conns: tc.conns, depth: tc.depth, duration: time.Minute, maxRequests: tc.max}
			stats, err := runLoad(context.Background(), unixDialer(path), cfg, feeders)
			if err != nil {
				t.Fatalf("runLoad: %v", err)
			}
			if stats.Requests != tc.max || stats.Hist.TotalCount() != tc.max {
				t.Errorf("requests = %d, recorded = %d, want %d", stats.Requests, stats.Hist.TotalCount(), tc.max)
			}
			if stats.Active != tc.max || stats.Errors != 0 || stats.Mismatches != 0 {
				t.Errorf("active/errors/mismatches = %d/%d/%d, want %d/0/0", stats.Active, stats.Errors, stats.Mismatches, tc.max)
			}
			if stats.Hist.Min() <= 0 {
				t.Errorf("min latency %d ns, want > 0", stats.Hist.Min())
			}
		})
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	path := echoServer(t, framingNDJSON, cannedAnswer(50))
	set := &wireSet{seen: encodeAll(framingNDJSON, []string{"a.b.c"})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := loadConfig{framing: framingNDJSON, conns: 1, depth: 1, duration: time.Hour, maxRequests: 1 << 40}
	if _, err := runLoad(ctx, unixDialer(path), cfg, []*feeder{newFeeder(set, mix{Seen: 1}, false, 0)}); err == nil {
		t.Error("a cancelled run returned no error")
	}
}

// mapStore is a baseline store over a map, to drive the baseline handler
// and the answer checks end to end.
type mapStore struct {
	mu     sync.Mutex
	denied map[string]bool
}

func (s *mapStore) revoked(c checked) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denied[c.jti] {
		return "revoked", nil
	}
	return "", nil
}

func (s *mapStore) revoke(c checked) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[c.jti] = true
	return nil
}

func TestBaselineMixEndToEnd(t *testing.T) {
	keys, err := MintKeys()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.sock")
	ln, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	h := baselineHandler(newVerifier(keys), &mapStore{denied: map[string]bool{}})
	wg.Go(func() {
		serveNDJSON(ctx, ln, func() (lineHandler, func(), error) { return h, func() {}, nil }, quiet)
	})
	defer func() { cancel(); wg.Wait() }()

	// One connection: the shares are spread per connection, and two would
	// split the 400 requests as the scheduler pleases (201 and 199 carry 50
	// and 49 revoked tokens), so the counts below would not be exact.
	cfg := benchConfig{conns: 1, depth: 4, duration: time.Minute, runs: 1, maxRequests: 400,
		mix: mix{Seen: 1, Revoked: 0.25}, seenTokens: 20, freshTokens: 10}
	b := newBench(cfg, keys, quiet)
	tg := &target{name: "baseline", socket: path, framing: framingNDJSON, alg: "ES256", setup: true, check: true}
	if err := b.prepare(context.Background(), tg); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	r, err := b.runOnce(context.Background(), tg, 1)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if r.Requests != 400 || r.Mismatches != 0 || r.Errors != 0 {
		t.Errorf("requests/mismatches/errors = %d/%d/%d, want 400/0/0", r.Requests, r.Mismatches, r.Errors)
	}
	if r.Inactive != 100 || r.Active != 300 {
		t.Errorf("active/inactive = %d/%d, want 300/100", r.Active, r.Inactive)
	}

	// Against a server that does not know the revocations, the check counts
	// every revoked token answered active as a mismatch.
	echo := echoServer(t, framingNDJSON, cannedAnswer(100))
	tg2 := &target{name: "echo", socket: echo, framing: framingNDJSON, alg: "ES256", check: true}
	r2, err := b.runOnce(context.Background(), tg2, 1)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if r2.Mismatches != 100 {
		t.Errorf("mismatches = %d, want 100", r2.Mismatches)
	}
}
