package daemon

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// lines is an io.Writer that hands each log line to the test as it is
// written, so the test waits for the line itself.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// TestLogStaleness steps the staleness log by the clock: one warning when
// the store has been silent past --stale-after, one line when it is back.
func TestLogStaleness(t *testing.T) {
	d, _, clock := newDaemon(t, time.Minute, nil)
	logged := make(lines)
	d.opts.Logger = slog.New(slog.NewTextHandler(logged, nil))
	d.replica.SetReady()
	d.replica.Touch()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.logStaleness(ctx) }()
	clock.WaitForWaiters(1)

	clock.Add(2 * time.Minute)
	if got := <-logged; !strings.Contains(got, "level=WARN") || !strings.Contains(got, "stale_after=1m0s") {
		t.Errorf("after 2m without contact, logged %q; want a warning naming stale_after", got)
	}
	d.replica.Touch()
	clock.Add(staleCheckEvery)
	if got := <-logged; !strings.Contains(got, "in contact with the revocation store again") {
		t.Errorf("after contact, logged %q; want the all-clear", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("logStaleness: %v", err)
	}
}
