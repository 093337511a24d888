package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Part holds the rule serve and Daemon.Run share for the goroutines they
// run together: a part that fails, or returns while the daemon is still
// meant to run, is an error that stops the rest; one that returns once the
// context is done is a clean stop.
func TestPart(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		cancel  bool // the context is done before the part returns
		err     error
		wantErr string // "" for none
	}{
		{name: "fails", err: boom, wantErr: "source: boom"},
		{name: "stops early", wantErr: "source stopped unexpectedly"},
		{name: "stops once the daemon stops", cancel: true},
		{name: "returns the context's cancellation", cancel: true, err: context.Canceled},
		{name: "fails after the daemon stopped", cancel: true, err: boom, wantErr: "source: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			err := Part(ctx, "source", func(context.Context) error { return tc.err })()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error saying %q", err, tc.wantErr)
			case tc.err == boom && !errors.Is(err, boom):
				t.Errorf("got %v, which does not wrap the part's error", err)
			}
		})
	}
}
