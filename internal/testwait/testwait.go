// Package testwait lets tests wait for an event with no deadline of their
// own. The only bound is go test's -timeout: a slow, busy machine makes a
// test slower, never failed. A test that waits here still fails, naming
// what it waited for, a little before -timeout would kill the binary.
package testwait

import (
	"testing"
	"time"
)

// margin is how long before go test's -timeout a wait gives up, so the
// failure says what it waited for rather than dumping every goroutine.
const margin = 30 * time.Second

// Deadline returns when a test should give up on an event: shortly before
// go test's -timeout, or a day from now without one (go test -timeout 0,
// or a benchmark).
func Deadline(t testing.TB) time.Time {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if at, ok := d.Deadline(); ok {
			return at.Add(-margin)
		}
	}
	return time.Now().Add(24 * time.Hour)
}

// For polls cond every millisecond until it holds.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(time.Until(Deadline(t)))
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s before go test's -timeout", what)
		case <-tick.C:
		}
	}
}
