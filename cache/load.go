package cache

// Load is a snapshot of the store on its way into a Replica. A snapshot
// replaces the replica whole (Replace), so nothing the store no longer holds
// survives a reload: not an entry forged into the change feed, and not one
// that a database restored from a backup lost. Versions do not order a
// snapshot against what the replica held before: a restored database's are
// lower.
//
// A write applied to the replica while the snapshot is read may have
// committed after the read saw its row, so the replica keeps every change
// applied since BeginLoad and Replace merges them into the snapshot by
// version: an acknowledged write never drops out of the replica, not even
// for the moment until its notification arrives.
type Load struct {
	cutoffs map[cutoffKey]entry
	denials map[string]entry
	claims  map[string]string // interned claim names
	version int64

	// Changes applied to the replica since BeginLoad.
	newCutoffs map[cutoffKey]entry
	newDenials map[string]entry
}

// BeginLoad starts a snapshot load. Only one load may be under way at a
// time; Replace or EndLoad ends it.
func (r *Replica) BeginLoad() *Load {
	l := &Load{
		cutoffs:    make(map[cutoffKey]entry),
		denials:    make(map[string]entry),
		claims:     make(map[string]string),
		newCutoffs: make(map[cutoffKey]entry),
		newDenials: make(map[string]entry),
	}
	r.mu.Lock()
	r.loading = l
	r.mu.Unlock()
	return l
}

// AddCutoff adds a cutoff read from the store. Of two for one key, the
// newer version stays.
func (l *Load) AddCutoff(c Cutoff) {
	claim, ok := l.claims[c.Claim]
	if !ok {
		claim = c.Claim
		l.claims[claim] = claim
	}
	k := cutoffKey{claim, c.Value}
	if newer(l.cutoffs, k, c.Version) {
		l.cutoffs[k] = entry{c.Before.UnixMicro(), c.Version}
		l.version = max(l.version, c.Version)
	}
}

// AddDenial adds a denial read from the store. Of two for one id, the newer
// version stays.
func (l *Load) AddDenial(d Denial) {
	if newer(l.denials, d.ID, d.Version) {
		l.denials[d.ID] = entry{d.ExpiresAt.UnixMicro(), d.Version}
		l.version = max(l.version, d.Version)
	}
}

// keepCutoff and keepDenial record a change applied to the replica during
// the load. The replica's lock is held.
func (l *Load) keepCutoff(k cutoffKey, e entry) {
	if newer(l.newCutoffs, k, e.version) {
		l.newCutoffs[k] = e
	}
}

func (l *Load) keepDenial(id string, e entry) {
	if newer(l.newDenials, id, e.version) {
		l.newDenials[id] = e
	}
}

// EndLoad ends a load without using it, as when reading the snapshot
// failed: the replica keeps what it held and stops recording changes for
// the load. After Replace it does nothing.
func (r *Replica) EndLoad(l *Load) {
	r.mu.Lock()
	if r.loading == l {
		r.loading = nil
	}
	r.mu.Unlock()
}

// Replace makes the load the replica's whole state, with the changes applied
// since BeginLoad merged in by version, and ends the load. The replica's
// version becomes the highest the new state holds, which is lower than
// before when the store was restored from a backup.
func (r *Replica) Replace(l *Load) {
	r.mu.Lock()
	if r.loading == l {
		r.loading = nil
	}
	for k, e := range l.newCutoffs {
		claim, ok := l.claims[k.claim]
		if !ok {
			claim = k.claim
			l.claims[claim] = claim
		}
		k.claim = claim
		if newer(l.cutoffs, k, e.version) {
			l.cutoffs[k] = e
			l.version = max(l.version, e.version)
		}
	}
	for id, e := range l.newDenials {
		if newer(l.denials, id, e.version) {
			l.denials[id] = e
			l.version = max(l.version, e.version)
		}
	}
	r.cutoffs, r.denials, r.claims = l.cutoffs, l.denials, l.claims
	r.version.Store(l.version)
	r.mu.Unlock()
	r.lastChange.Store(r.clock.Now().UnixMicro())
}
