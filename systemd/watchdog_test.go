package systemd

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
)

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name    string
		usec    string
		pid     string
		want    time.Duration
		wantErr bool
	}{
		{name: "off", usec: "", want: 0},
		{name: "half the timeout", usec: "30000000", want: 15 * time.Second},
		{name: "for this process", usec: "30000000", pid: self, want: 15 * time.Second},
		{name: "for another process", usec: "30000000", pid: "1", want: 0},
		{name: "not a number", usec: "soon", wantErr: true},
		{name: "zero", usec: "0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			got, err := WatchdogInterval()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("interval = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWatchdogPingsOnlyWhileHealthy drives the loop one tick at a time: the
// health check blocks until the test answers, and after each answer the
// test moves the clock one interval, so each answer is one tick.
// After the loop has returned, the datagrams queued must be exactly one
// WATCHDOG=1 per healthy answer.
func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	conn := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "2000") // a tick every millisecond
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	answers := []bool{true, false, false, true, true, false}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ask := make(chan bool)
	healthy := func() bool {
		select {
		case a := <-ask:
			return a
		case <-ctx.Done():
			return false
		}
	}
	done := make(chan error, 1)
	clock := clocktest.New(time.Unix(1_800_000_000, 0))
	go func() { done <- Watchdog(ctx, clock, healthy) }()
	for _, a := range answers {
		ask <- a
		clock.Add(time.Millisecond) // the loop takes this tick once it has pinged
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watchdog: %v", err)
	}

	want := 0
	for _, a := range answers {
		if a {
			want++
		}
	}
	got := drain(t, conn)
	if len(got) != want {
		t.Errorf("got %d datagrams %q for %d healthy ticks, want %d", len(got), got, want, want)
	}
	for _, d := range got {
		if d != "WATCHDOG=1" {
			t.Errorf("datagram = %q, want WATCHDOG=1", d)
		}
	}
}

func TestWatchdogOff(t *testing.T) {
	listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "")
	err := Watchdog(context.Background(), cache.SystemClock{}, func() bool {
		t.Errorf("health checked although the watchdog is off")
		return true
	})
	if err != nil {
		t.Errorf("Watchdog off: %v, want nil", err)
	}
}

func TestWatchdogBadTimeout(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "-5")
	if err := Watchdog(context.Background(), cache.SystemClock{}, func() bool { return true }); err == nil {
		t.Errorf("Watchdog with WATCHDOG_USEC=-5: nil error, want one")
	}
}

// TestWatchdogReportsFailedPings: pings that cannot be sent do not stop the
// loop, and are reported when it ends.
func TestWatchdogReportsFailedPings(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	t.Setenv("WATCHDOG_USEC", "2000")
	t.Setenv("WATCHDOG_PID", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := clocktest.New(time.Unix(1_800_000_000, 0))
	calls := 0
	err := Watchdog(ctx, clock, func() bool {
		calls++
		if calls == 3 {
			cancel() // the third ping is still attempted, then the loop ends
		} else {
			clock.Add(time.Millisecond) // the next tick, taken after this ping
		}
		return true
	})
	if err == nil || !strings.Contains(err.Error(), "3 pings failed") {
		t.Errorf("Watchdog = %v, want an error reporting 3 failed pings", err)
	}
}
