package cache

import "time"

// Clock tells the time and wakes whoever waits on it. Everything that
// depends on time takes one, so tests can move time instead of sleeping:
// with a manual clock (internal/clocktest) the prune, heartbeat, staleness
// and watchdog loops step when the test moves it. The shape is tailscale's
// tstime.Clock.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once,
	// after d, as time.NewTimer does.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
	// NewTicker returns a ticker that sends the time on its channel every
	// d, dropping ticks a slow reader misses, as time.NewTicker does.
	NewTicker(d time.Duration) (Ticker, <-chan time.Time)
}

// Timer is the part of a *time.Timer its owner keeps to control it.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// Ticker is the part of a *time.Ticker its owner keeps to control it.
type Ticker interface {
	Stop()
	Reset(d time.Duration)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer is time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

// NewTicker is time.NewTicker.
func (SystemClock) NewTicker(d time.Duration) (Ticker, <-chan time.Time) {
	t := time.NewTicker(d)
	return t, t.C
}
