package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
)

// records keeps every log record a Source writes.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// errorAttrs returns the "error" of every record at level with message msg.
func (r *records) errorAttrs(level slog.Level, msg string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		if rec.Level != level || rec.Message != msg {
			continue
		}
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				out = append(out, a.Value.String())
			}
			return true
		})
	}
	return out
}

// refuseTLS is a server that declines TLS, as a PostgreSQL without it does,
// and then hangs up on the plain startup: pgx with sslmode=prefer tries
// both, on both addresses, and reports each attempt on a line of its own.
func refuseTLS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var head [8]byte
				if _, err := io.ReadFull(c, head[:]); err != nil {
					return
				}
				if binary.BigEndian.Uint32(head[4:]) == 80877103 { // SSLRequest
					c.Write([]byte{'N'})
				}
			})
		}
	})
	addr := ln.Addr().String()
	return fmt.Sprintf("postgres://nobody@%s,%s/revokd?sslmode=prefer", addr, addr)
}

// TestReconnectWarningIsOneLine: each failed attempt logs one warning whose
// error is one line, the last attempt's cause, and the full error at debug.
func TestReconnectWarningIsOneLine(t *testing.T) {
	rec := &records{}
	cfg := testConfig(t, refuseTLS(t))
	cfg.Logger = slog.New(rec)
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The second attempt starts only after the first one's lines are logged.
	second := make(chan struct{})
	s.connectHook = func(ctx context.Context) error {
		if s.attempts.Load() == 2 {
			close(second)
			<-ctx.Done()
		}
		return nil
	}
	d := run(t, s)
	<-second
	d.stop(t)

	for _, msg := range []string{"database not reachable yet; the feed will keep trying", "database feed lost; reconnecting"} {
		warned := rec.errorAttrs(slog.LevelWarn, msg)
		if len(warned) == 0 {
			t.Fatalf("no warning %q", msg)
		}
		for _, w := range warned {
			if strings.ContainsAny(w, "\n\t") || strings.Contains(w, "refused TLS") {
				t.Errorf("warning %q: error %q, want one line without the TLS attempt", msg, w)
			}
			if !strings.Contains(w, "127.0.0.1") {
				t.Errorf("warning %q: error %q, want the address that failed", msg, w)
			}
		}
	}
	full := rec.errorAttrs(slog.LevelDebug, "database feed lost")
	if len(full) == 0 || !strings.Contains(full[0], "server refused TLS connection") || !strings.Contains(full[0], "\n") {
		t.Errorf("debug errors %q, want pgx's full error, every attempt on its own line", full)
	}
}
