// Package clocktest is test support: a cache.Clock that moves only when a
// test moves it, with timers and tickers that fire as it passes them, so
// loops that wait on the clock step with the test instead of with the wall.
// Nothing shipped imports it.
package clocktest

import (
	"sync"
	"time"

	"github.com/revokd/revokd/cache"
)

// Clock is a cache.Clock that only moves when told to. Its zero value is
// not usable; tests start one with New.
type Clock struct {
	mu      sync.Mutex
	moved   *sync.Cond // broadcast whenever the set of armed waiters changes
	now     time.Time
	waiters map[*waiter]bool // the armed ones
}

var _ cache.Clock = (*Clock)(nil)

// New returns a Clock set to t.
func New(t time.Time) *Clock {
	c := &Clock{now: t, waiters: map[*waiter]bool{}}
	c.moved = sync.NewCond(&c.mu)
	return c
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d (back, when negative), firing every timer and
// ticker it passes.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

// Set moves the clock to t, firing every timer and ticker it passes.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.fireLocked()
}

// WaitForWaiters blocks until at least n timers and tickers are armed. A
// test calls it before moving the clock, so that the loop it steps is
// already waiting and the move cannot slip in before the loop's timer
// exists.
func (c *Clock) WaitForWaiters(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waiters) < n {
		c.moved.Wait()
	}
}

// NewTimer returns a timer that fires once the clock reaches now+d.
func (c *Clock) NewTimer(d time.Duration) (cache.Timer, <-chan time.Time) {
	w := &waiter{c: c, ch: make(chan time.Time, 1)}
	w.Reset(d)
	return w, w.ch
}

// NewTicker returns a ticker that fires each time the clock passes another
// multiple of d from now. A move that spans several ticks sends one, as a
// time.Ticker drops the ticks a slow reader misses.
func (c *Clock) NewTicker(d time.Duration) (cache.Ticker, <-chan time.Time) {
	if d <= 0 {
		panic("clocktest: non-positive interval for NewTicker")
	}
	w := &waiter{c: c, ch: make(chan time.Time, 1)}
	w.arm(d, d)
	return tickerOf{w}, w.ch
}

// fireLocked sends on every waiter whose time has come: a timer disarms, a
// ticker moves to its first tick after now.
func (c *Clock) fireLocked() {
	for w := range c.waiters {
		if w.when.After(c.now) {
			continue
		}
		select {
		case w.ch <- c.now:
		default: // the reader has not taken the last one: drop this one
		}
		if w.period == 0 {
			delete(c.waiters, w)
			continue
		}
		for !w.when.After(c.now) {
			w.when = w.when.Add(w.period)
		}
	}
	c.moved.Broadcast()
}

// waiter is one timer or ticker.
type waiter struct {
	c      *Clock
	ch     chan time.Time
	when   time.Time
	period time.Duration // 0 for a timer
}

// arm (re)starts w to fire at now+d, then every period (0: once). A value
// sent before and not yet received is dropped, as Go 1.23's timers do.
func (w *waiter) arm(d, period time.Duration) bool {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.waiters[w]
	select {
	case <-w.ch:
	default:
	}
	w.when, w.period = c.now.Add(d), period
	c.waiters[w] = true
	c.fireLocked() // a timer for now or earlier fires at once
	return was
}

// Stop disarms w and reports whether it was armed.
func (w *waiter) Stop() bool {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.waiters[w]
	delete(c.waiters, w)
	select {
	case <-w.ch:
	default:
	}
	c.moved.Broadcast()
	return was
}

// Reset rearms w as a timer firing at now+d.
func (w *waiter) Reset(d time.Duration) bool { return w.arm(d, 0) }

// tickerOf gives a waiter the methods of a cache.Ticker.
type tickerOf struct{ w *waiter }

func (t tickerOf) Stop() { t.w.Stop() }

func (t tickerOf) Reset(d time.Duration) {
	if d <= 0 {
		panic("clocktest: non-positive interval for Ticker.Reset")
	}
	t.w.arm(d, d)
}
