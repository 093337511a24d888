package postgres

import (
	"math/rand/v2"
	"time"
)

// backoff yields reconnect delays that double from min to max, each drawn
// from [d/2, d] so that daemons cut off together don't return together.
// The delays are waited on real timers, not the injected clock: no expiry
// decision depends on them, and tests that hold their clock still still
// need the feed to come back. The heartbeat is real time too, for the same
// reason and because it bounds network I/O through pgx's deadlines.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

// reset starts over from min, after a connection got as far as a snapshot.
func (b *backoff) reset() { b.cur = 0 }
