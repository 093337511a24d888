package cache

import (
	"math"
	"time"
)

// The replica also records when its source last heard from the store, so
// that how far it can be trusted is a question for the replica alone: the
// pipeline, the status page and the daemon's logs all ask it, and it exists
// before the source is opened. Each source says when it is in contact;
// nothing else needs to know which kind of source it is.

// inTouch marks a replica whose source can never lose its store.
const inTouch = math.MaxInt64

// Touch records that the source heard from its store just now (a query
// answered, a notification received, a heartbeat returned).
func (r *Replica) Touch() {
	if r.contact.Load() != inTouch {
		r.contact.Store(r.clock.Now().UnixMicro())
	}
}

// StayInTouch marks the replica as in contact with its store at every
// moment from now on: for a store no outage can separate from the daemon,
// such as the embedded file the daemon itself holds open.
func (r *Replica) StayInTouch() { r.contact.Store(inTouch) }

// LastContact returns when the source last heard from its store, by the
// replica's clock: zero before the first contact, now for a replica that
// stays in touch.
func (r *Replica) LastContact() time.Time {
	switch m := r.contact.Load(); m {
	case 0:
		return time.Time{}
	case inTouch:
		return r.clock.Now()
	default:
		return time.UnixMicro(m)
	}
}

// Stale reports whether, at now, the replica cannot be trusted to hold
// every revocation: before its first snapshot, always; after it, when it is
// out of touch under a --stale-after policy of after. Every validation
// asks, so it is two atomic loads.
func (r *Replica) Stale(now time.Time, after time.Duration) bool {
	return !r.ready.Load() || r.OutOfTouch(now, after)
}

// OutOfTouch applies a --stale-after policy of after (0: off) at now: the
// source has gone longer than after without contact with its store, or has
// had none yet, so the policy fails closed from the start.
func (r *Replica) OutOfTouch(now time.Time, after time.Duration) bool {
	if after <= 0 {
		return false
	}
	m := r.contact.Load()
	return m == 0 || m != inTouch && now.UnixMicro()-m > after.Microseconds()
}
