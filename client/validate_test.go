package client_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

// answerByToken answers validate requests like a daemon whose only active
// token is "good" (subject 42), and error lines for unknown ops.
func answerByToken(req ndRequest) (string, bool) {
	switch {
	case req.Op != apitype.OpValidate:
		return `{"error":{"code":"bad_request","message":"unknown op"}}`, false
	case req.Token == "good":
		return `{"active":true,"sub":"42","jti":"j1","exp":1800000000,"claims":{"sub":"42"}}`, false
	case req.Token == "banned":
		return `{"active":false,"reason":"subject_revoked","until":"2030-01-02T03:04:05Z"}`, false
	case req.Token == "error":
		return `{"error":{"code":"too_large","message":"line over 1 MiB"}}`, false
	default:
		return `{"active":false,"reason":"malformed"}`, false
	}
}

func TestValidateAnswers(t *testing.T) {
	s := startNDJSON(t, answerByToken)
	c := newClient(t, s.path)
	tests := []struct {
		token      string
		wantActive bool
		wantSub    string
		wantReason string
		wantUntil  string
		wantStatus int // 0: no error
	}{
		{token: "good", wantActive: true, wantSub: "42"},
		{token: "garbage", wantReason: apitype.ReasonMalformed},
		{token: "banned", wantReason: apitype.ReasonSubjectRevoked, wantUntil: "2030-01-02T03:04:05Z"},
		{token: "error", wantStatus: 413},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			resp, err := c.Validate(context.Background(), tc.token)
			if tc.wantStatus != 0 {
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != tc.wantStatus {
					t.Fatalf("err = %v, want *Error with status %d", err, tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if resp.Active != tc.wantActive || resp.Sub != tc.wantSub || resp.Reason != tc.wantReason {
				t.Errorf("got active=%v sub=%q reason=%q, want %v %q %q", resp.Active, resp.Sub, resp.Reason, tc.wantActive, tc.wantSub, tc.wantReason)
			}
			var until string
			if resp.Until != nil {
				until = resp.Until.Format("2006-01-02T15:04:05Z07:00")
			}
			if until != tc.wantUntil {
				t.Errorf("until = %q, want %q", until, tc.wantUntil)
			}
		})
	}
	// An error line leaves the connection usable, so every call above shared
	// one connection.
	if got := s.accepts.Load(); got != 1 {
		t.Errorf("connections opened = %d, want 1", got)
	}
}

func TestValidateRetriesOnceOnBrokenPooledConn(t *testing.T) {
	tests := []struct {
		name        string
		second      func(ndRequest) (string, bool) // server behaviour after the first call
		wantErr     bool
		wantAccepts int64
	}{
		{
			// The daemon closed the idle connection: the call goes through on
			// a new one.
			name:        "closed while idle",
			second:      answerByToken,
			wantAccepts: 2,
		},
		{
			// The daemon drops every request unanswered: one retry, then an
			// error, never a loop.
			name:        "dropped unanswered",
			second:      func(ndRequest) (string, bool) { return "", true },
			wantErr:     true,
			wantAccepts: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The first answer closes its connection after writing.
			s := startNDJSON(t, func(req ndRequest) (string, bool) {
				line, _ := answerByToken(req)
				return line, true
			})
			c := newClient(t, s.path)
			if _, err := c.Validate(context.Background(), "good"); err != nil {
				t.Fatalf("first Validate: %v", err)
			}
			s.setAnswer(tc.second)
			resp, err := c.Validate(context.Background(), "good")
			if tc.wantErr {
				if !client.IsUnavailable(err) {
					t.Fatalf("err = %v, want unavailable", err)
				}
			} else if err != nil || !resp.Active {
				t.Fatalf("second Validate = %+v, %v; want active", resp, err)
			}
			if got := s.accepts.Load(); got != tc.wantAccepts {
				t.Errorf("connections opened = %d, want %d", got, tc.wantAccepts)
			}
		})
	}
}

func TestValidateFreshConnIsNotRetried(t *testing.T) {
	s := startNDJSON(t, func(ndRequest) (string, bool) { return "", true })
	c := newClient(t, s.path)
	_, err := c.Validate(context.Background(), "good")
	if !client.IsUnavailable(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if got := s.accepts.Load(); got != 1 {
		t.Errorf("connections opened = %d, want 1", got)
	}
}

func TestValidateNoDaemon(t *testing.T) {
	c := newClient(t, filepath.Join(t.TempDir(), "absent.sock"))
	_, err := c.Validate(context.Background(), "good")
	if !client.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = false, want true", err)
	}
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("errors.Is(%v, ENOENT) = false, want true", err)
	}
}

func TestValidateCancelUnblocks(t *testing.T) {
	received := make(chan struct{})
	release := make(chan struct{})
	s := startNDJSON(t, func(ndRequest) (string, bool) {
		close(received)
		<-release
		return "", true
	})
	defer close(release)
	c := newClient(t, s.path)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-received
		cancel()
	}()
	_, err := c.Validate(ctx, "good")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want one wrapping context.Canceled", err)
	}
}

func TestZeroClientUsesEnvSocket(t *testing.T) {
	s := startNDJSON(t, answerByToken)
	t.Setenv(client.SocketEnv, s.path)
	var c client.Client
	defer c.Close()
	resp, err := c.Validate(context.Background(), "good")
	if err != nil || resp.Sub != "42" {
		t.Fatalf("Validate = %+v, %v; want sub 42", resp, err)
	}
}

func TestValidateConcurrentPool(t *testing.T) {
	s := startNDJSON(t, answerByToken)
	c := &client.Client{Socket: s.path, MaxIdleConns: 2}
	defer c.Close()
	const workers, calls = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				token, want := "good", true
				if (w+i)%3 == 0 {
					token, want = "bad", false
				}
				resp, err := c.Validate(context.Background(), token)
				if err != nil || resp.Active != want {
					errs <- fmt.Errorf("Validate(%q) = %+v, %v; want active=%v", token, resp, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.accepts.Load(); got > workers {
		t.Errorf("connections opened = %d, want at most %d", got, workers)
	}
}
