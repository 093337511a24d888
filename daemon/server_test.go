package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/internal/testwait"
)

func TestShutdownDrainsInFlight(t *testing.T) {
	tests := []struct {
		name string
		// send starts a revoke on path and returns a function that waits
		// for its answer.
		send func(t *testing.T, path string) func() string
	}{
		{name: "http", send: func(t *testing.T, path string) func() string {
			c := dial(t, path)
			req := "POST /v1/revoke HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n{\"token\":\"good\"}"
			if _, err := c.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			return func() string {
				resp, body := newRespReader(c).next(t)
				return resp.Status + " " + string(body)
			}
		}},
		{name: "ndjson", send: func(t *testing.T, path string) func() string {
			nc := dialNDJSON(t, path)
			nc.send(`{"op":"revoke","token":"good"}` + "\n")
			return func() string { return "200 OK " + nc.line() }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.entered, f.release = make(chan struct{}), make(chan struct{})
			ts := startServer(t, Config{Backend: f})
			idle := dialNDJSON(t, ts.path) // an idle connection must not hold up the drain
			idle.roundTrip(`{"op":"status"}`)

			answer := tc.send(t, ts.path)
			<-f.entered
			ts.cancel()
			// The socket disappears as soon as shutdown begins.
			deadline := testwait.Deadline(t)
			for {
				if _, err := os.Lstat(ts.path); errors.Is(err, os.ErrNotExist) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("socket still present after shutdown began")
				}
			}
			select {
			case err := <-ts.errc:
				t.Fatalf("Serve returned (%v) with a request in flight", err)
			default:
			}
			close(f.release)
			if got, want := answer(), "200 OK {\"stored\":true}\n"; got != want {
				t.Errorf("in-flight answer: got %q, want %q", got, want)
			}
			if err := ts.stop(); err != nil {
				t.Errorf("Serve: %v", err)
			}
			waitClosed(t, idle.c)
		})
	}
}

func TestShutdownTimeoutCutsDrainShort(t *testing.T) {
	f := newFake()
	f.entered, f.release = make(chan struct{}), make(chan struct{})
	ts := startServer(t, Config{Backend: f})
	nc := dialNDJSON(t, ts.path)
	nc.send(`{"op":"revoke","token":"good"}` + "\n")
	<-f.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ts.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a dead context: got %v, want context.Canceled", err)
	}
	// The backend call saw its context cancelled, so the answer is an
	// error line, if the connection still takes it; the connection closes.
	waitClosed(t, nc.c)
	// Serve reports its own drain, which found nothing left; the cut-short
	// error went to Shutdown's caller.
	if err := ts.stop(); err != nil {
		t.Errorf("Serve after Shutdown: got %v, want nil", err)
	}
}

func TestServeTakesAnyListener(t *testing.T) {
	// As systemd passes one: a listener made elsewhere.
	path := shortDir(t) + "/a.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{Backend: newFake()})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	nc := dialNDJSON(t, path)
	if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Errorf("got %q", got)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := s.Serve(context.Background(), ln); err == nil {
		t.Error("second Serve: got nil error")
	}
}

func TestWriteAccessByPeerCredentials(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	tests := []struct {
		name       string
		uids, gids []int
		allowed    bool
	}{
		{name: "open", allowed: true},
		{name: "uid listed", uids: []int{uid}, allowed: true},
		{name: "gid listed", gids: []int{gid}, allowed: true},
		{name: "other uid", uids: []int{uid + 4242}, allowed: false},
		{name: "other gid", gids: []int{gid + 4242}, allowed: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{WriteUIDs: tc.uids, WriteGIDs: tc.gids})
			hc := httpClient(t, ts.path)
			nc := dialNDJSON(t, ts.path)
			// The privileged writes, each as an HTTP route and an NDJSON op.
			writes := []struct{ url, op, body string }{
				{"/v1/revoke-all", "revoke-all", `{"sub":"1"}`},
				{"/v1/unban", "unban", `{"sub":"1"}`},
				// A bare jti needs no token: it could log anyone out.
				{"/v1/revoke", "revoke", `{"jti":"j9","exp":1800000000}`},
			}
			for _, w := range writes {
				resp, body := doHTTP(t, hc, "POST", w.url, w.body, nil)
				if got := resp.StatusCode == 200; got != tc.allowed {
					t.Errorf("HTTP %s: got %d %s, want allowed=%v", w.url, resp.StatusCode, body, tc.allowed)
				}
				if !tc.allowed && (resp.StatusCode != 403 || errorCode(body) != apitype.CodeForbidden) {
					t.Errorf("HTTP %s: got %d %s, want 403 forbidden", w.url, resp.StatusCode, body)
				}
			}
			for _, w := range writes {
				got := nc.roundTrip(`{"op":"` + w.op + `",` + w.body[1:])
				if denied := strings.Contains(got, `"error"`); denied == tc.allowed {
					t.Errorf("NDJSON %s: got %s, want allowed=%v", w.op, got, tc.allowed)
				}
				if !tc.allowed && errorCode([]byte(got)) != apitype.CodeForbidden {
					t.Errorf("NDJSON %s: got %s, want code forbidden", w.op, got)
				}
			}
			// Validation and revocation with the token in hand stay open to
			// everyone.
			if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
				t.Errorf("validate: got %q", got)
			}
			if got := nc.roundTrip(`{"op":"revoke","token":"good"}`); got != `{"stored":true}`+"\n" {
				t.Errorf("NDJSON revoke with the token: got %q", got)
			}
			if resp, body := doHTTP(t, hc, "POST", "/v1/revoke", `{"token":"good"}`, nil); resp.StatusCode != 200 {
				t.Errorf("HTTP revoke with the token: got %d %s", resp.StatusCode, body)
			}
		})
	}
}
