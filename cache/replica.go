// Package cache holds revokd's revocation state: the Replica, a complete
// copy of the active cutoffs and denials that decides every answer, and the
// Source interface that keeps the replica in step with its store.
package cache

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Cutoff revokes every token whose session start is strictly before Before
// and whose claim Claim equals Value.
type Cutoff struct {
	Claim   string
	Value   string
	Before  time.Time
	Version int64
}

// Denial revokes the one token with the given id until ExpiresAt.
type Denial struct {
	ID        string
	ExpiresAt time.Time
	Version   int64
}

type cutoffKey struct{ claim, value string }

// entry is a time at microsecond precision (the precision PostgreSQL keeps)
// and the version that set it. Two int64s keep a million entries small.
type entry struct {
	micros  int64
	version int64
}

// Replica is the complete active revocation state, held in memory.
//
// Every change carries a version; a change applies only when its version is
// newer than the one held for the same key, so redelivered or reordered
// changes are harmless. Entries leave only when the clock says they can no
// longer reject a token, so nothing here can fail open.
//
// A denial holds the token's own exp. This replica refuses the id until exp
// plus its own leeway, the same leeway its pipeline grants exp, so the
// daemon that wrote a denial and the daemon that reads it need not agree on
// one.
type Replica struct {
	clock         Clock
	maxSessionAge time.Duration
	leeway        int64 // microseconds a denial outlives its exp

	mu      sync.RWMutex
	cutoffs map[cutoffKey]entry
	denials map[string]entry
	claims  map[string]string // interned claim names
	loading *Load             // the snapshot being loaded, if any

	version    atomic.Int64 // highest version applied
	lastChange atomic.Int64 // unix micros of the last applied change, by clock
	contact    atomic.Int64 // unix micros of the source's last contact with its store, by clock; 0: none; inTouch: always
	ready      atomic.Bool
	loaded     chan struct{} // closed by the first SetReady
	setReady   sync.Once
	holds      atomic.Int32 // what readiness still waits for: the first snapshot, and each HoldReady
}

// NewReplica returns an empty replica. maxSessionAge, when positive, lets
// Prune drop cutoffs that every token they could reject has outlived.
// leeway is the clock skew the pipeline allows on exp: a denied id stays
// refused until its exp plus leeway.
func NewReplica(clock Clock, maxSessionAge, leeway time.Duration) *Replica {
	r := &Replica{
		clock:         clock,
		maxSessionAge: maxSessionAge,
		leeway:        leeway.Microseconds(),
		cutoffs:       make(map[cutoffKey]entry),
		denials:       make(map[string]entry),
		claims:        make(map[string]string),
		loaded:        make(chan struct{}),
	}
	r.holds.Store(1) // the first snapshot
	return r
}

// ApplyCutoff sets a cutoff if c.Version is newer than the one held, and
// reports whether it did.
func (r *Replica) ApplyCutoff(c Cutoff) bool {
	r.mu.Lock()
	claim, ok := r.claims[c.Claim]
	if !ok {
		claim = c.Claim
		r.claims[claim] = claim
	}
	k := cutoffKey{claim, c.Value}
	e := entry{c.Before.UnixMicro(), c.Version}
	applied := newer(r.cutoffs, k, c.Version)
	if applied {
		r.cutoffs[k] = e
	}
	if r.loading != nil {
		r.loading.keepCutoff(k, e)
	}
	r.mu.Unlock()
	r.noteApplied(applied, c.Version)
	return applied
}

// ApplyDenial sets a denial if d.Version is newer than the one held, and
// reports whether it did.
func (r *Replica) ApplyDenial(d Denial) bool {
	r.mu.Lock()
	e := entry{d.ExpiresAt.UnixMicro(), d.Version}
	applied := newer(r.denials, d.ID, d.Version)
	if applied {
		r.denials[d.ID] = e
	}
	if r.loading != nil {
		r.loading.keepDenial(d.ID, e)
	}
	r.mu.Unlock()
	r.noteApplied(applied, d.Version)
	return applied
}

func newer[K comparable](m map[K]entry, k K, version int64) bool {
	held, ok := m[k]
	return !ok || version > held.version
}

func (r *Replica) noteApplied(applied bool, version int64) {
	if !applied {
		return
	}
	for {
		v := r.version.Load()
		if version <= v || r.version.CompareAndSwap(v, version) {
			break
		}
	}
	r.lastChange.Store(r.clock.Now().UnixMicro())
}

// ClaimValue is one claim of a token that a cutoff may name, with the
// token's value for it.
type ClaimValue struct {
	Claim string // "sub" stands for the subject claim, whatever it is called
	Value string
}

// Rejection is what in the replica rejects a token, if anything.
type Rejection struct {
	Claim  string // the claim of the latest cutoff that rejects it; empty when none
	Before int64  // that cutoff, in unix microseconds
	Denied bool   // the token's id is denied (looked at only when no cutoff rejects it)
}

// Reject answers a verified token's whole revocation question under one
// read lock: of the cutoffs on its claims that fall after its session start
// (both in unix microseconds), the latest, so a ban is reported with its
// end; else whether id, or altID when set, is denied at now (until its exp
// plus the leeway). Validation
// calls it on every request; one lock instead of one per lookup keeps the
// cores from trading the lock's cache line back and forth.
func (r *Replica) Reject(claims []ClaimValue, sessionStart int64, id, altID string, now int64) Rejection {
	var rej Rejection
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range claims {
		e, ok := r.cutoffs[cutoffKey{c.Claim, c.Value}]
		if ok && sessionStart < e.micros && (rej.Claim == "" || e.micros > rej.Before) {
			rej.Claim, rej.Before = c.Claim, e.micros
		}
	}
	if rej.Claim != "" {
		return rej
	}
	rej.Denied = r.deniedLocked(id, now) || (altID != "" && r.deniedLocked(altID, now))
	return rej
}

// deniedLocked reports whether id is refused at now: until its exp plus the
// leeway, as long as the pipeline would accept the token.
func (r *Replica) deniedLocked(id string, now int64) bool {
	e, ok := r.denials[id]
	return ok && now-r.leeway < e.micros
}

// Cutoff returns the cutoff for (claim, value), if there is one.
func (r *Replica) Cutoff(claim, value string) (time.Time, bool) {
	r.mu.RLock()
	e, ok := r.cutoffs[cutoffKey{claim, value}]
	r.mu.RUnlock()
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMicro(e.micros), true
}

// Denied reports whether id is denied and the denial has not expired.
func (r *Replica) Denied(id string) bool {
	now := r.clock.Now().UnixMicro()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.deniedLocked(id, now)
}

// Prune forgets denials whose exp plus leeway has passed and, when a maximum
// session age is set, cutoffs older than it. It returns how many of each it
// dropped.
func (r *Replica) Prune() (cutoffs, denials int) {
	now := r.clock.Now()
	expired := now.UnixMicro() - r.leeway           // a denial ends at exp + leeway
	oldest := now.Add(-r.maxSessionAge).UnixMicro() // used only with a maximum session age
	// Look under the read lock, so validations go on during a scan of
	// millions of entries; delete under the write lock, checking each entry
	// again, as a newer version may have replaced it meanwhile.
	var ids []string
	var keys []cutoffKey
	r.mu.RLock()
	for id, e := range r.denials {
		if e.micros <= expired {
			ids = append(ids, id)
		}
	}
	if r.maxSessionAge > 0 {
		for k, e := range r.cutoffs {
			if e.micros < oldest {
				keys = append(keys, k)
			}
		}
	}
	r.mu.RUnlock()
	if len(ids) == 0 && len(keys) == 0 {
		return 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if e, ok := r.denials[id]; ok && e.micros <= expired {
			delete(r.denials, id)
			denials++
		}
	}
	for _, k := range keys {
		if e, ok := r.cutoffs[k]; ok && e.micros < oldest {
			delete(r.cutoffs, k)
			cutoffs++
		}
	}
	return cutoffs, denials
}

// Sizes returns how many cutoffs and denials the replica holds.
func (r *Replica) Sizes() (cutoffs, denials int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.cutoffs), len(r.denials)
}

// Version returns the highest version applied so far.
func (r *Replica) Version() int64 { return r.version.Load() }

// LastChange returns when, by the replica's clock, a change last applied.
// It is zero before the first.
func (r *Replica) LastChange() time.Time {
	if m := r.lastChange.Load(); m != 0 {
		return time.UnixMicro(m)
	}
	return time.Time{}
}

// SetReady marks the replica as holding a complete snapshot.
func (r *Replica) SetReady() { r.setReady.Do(r.release) }

// HoldReady makes readiness wait for one more thing besides the first
// snapshot (the first key set fetched from an identity provider, say):
// Ready, Loaded and Stale all follow it, so every answer, /readyz and
// systemd's READY=1 wait together. release may be called more than once.
// Holds must be taken before the source can call SetReady.
func (r *Replica) HoldReady() (release func()) {
	r.holds.Add(1)
	var once sync.Once
	return func() { once.Do(r.release) }
}

func (r *Replica) release() {
	if r.holds.Add(-1) == 0 {
		r.ready.Store(true)
		close(r.loaded)
	}
}

// Ready reports whether the replica has held a complete snapshot, and
// whatever HoldReady made it wait for has come.
func (r *Replica) Ready() bool { return r.ready.Load() }

// Loaded is closed once Ready is true, for whoever waits to announce the
// daemon ready.
func (r *Replica) Loaded() <-chan struct{} { return r.loaded }

// Snapshot returns every cutoff and denial held, sorted, for status pages
// and tests.
func (r *Replica) Snapshot() ([]Cutoff, []Denial) {
	r.mu.RLock()
	cs := make([]Cutoff, 0, len(r.cutoffs))
	for k, e := range r.cutoffs {
		cs = append(cs, Cutoff{Claim: k.claim, Value: k.value, Before: time.UnixMicro(e.micros), Version: e.version})
	}
	ds := make([]Denial, 0, len(r.denials))
	for id, e := range r.denials {
		ds = append(ds, Denial{ID: id, ExpiresAt: time.UnixMicro(e.micros), Version: e.version})
	}
	r.mu.RUnlock()
	slices.SortFunc(cs, func(a, b Cutoff) int {
		return cmp.Or(cmp.Compare(a.Claim, b.Claim), cmp.Compare(a.Value, b.Value))
	})
	slices.SortFunc(ds, func(a, b Denial) int { return cmp.Compare(a.ID, b.ID) })
	return cs, ds
}
