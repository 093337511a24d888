package systemd

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/revokd/revokd/cache"
)

// WatchdogInterval returns how often Watchdog pings: half of WATCHDOG_USEC,
// as sd_watchdog_enabled(3) advises, so one late ping is not fatal. It is
// zero when systemd's watchdog is off for this process (WATCHDOG_USEC unset,
// or WATCHDOG_PID naming another process).
func WatchdogInterval() (time.Duration, error) {
	timeout, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("systemd watchdog: %w", err)
	}
	return timeout / 2, nil
}

// Watchdog pings systemd's watchdog (WATCHDOG=1) every WatchdogInterval
// while healthy reports true, from now until ctx is done. When healthy is
// false it skips the ping, so a daemon that has stopped being able to answer
// is restarted by systemd after WatchdogSec=. It returns at once, with nil,
// when the watchdog is off.
//
// A ping that cannot be sent is retried at the next tick rather than ending
// the loop: systemd's timeout is the judge of a stuck daemon, not one failed
// datagram. Watchdog then reports, when ctx is done, how many pings failed
// and the last error. It ticks on clock, so a test steps it.
func Watchdog(ctx context.Context, clock cache.Clock, healthy func() bool) error {
	interval, err := WatchdogInterval()
	if err != nil || interval <= 0 {
		return err
	}
	t, tick := clock.NewTicker(interval)
	defer t.Stop()
	var failed int
	var lastErr error
	for {
		if healthy() {
			if err := notify(daemon.SdNotifyWatchdog); err != nil {
				failed++
				lastErr = err
			}
		}
		select {
		case <-ctx.Done():
			if failed > 0 {
				return fmt.Errorf("systemd watchdog: %d pings failed, last: %w", failed, lastErr)
			}
			return nil
		case <-tick:
		}
	}
}
