package cache_test

import (
	"math"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
)

// A snapshot replaces the replica whole: an entry that the store does not
// hold, such as one forged into the feed with the largest version, is gone
// after a reload, and the store's real changes apply again.
func TestReplicaReplaceDropsWhatTheStoreLacks(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "victim", Before: r0, Version: 7})
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "victim", Before: time.UnixMicro(0), Version: math.MaxInt64})
	r.ApplyDenial(cache.Denial{ID: "forged", ExpiresAt: r0.Add(time.Hour), Version: math.MaxInt64})

	l := r.BeginLoad()
	l.AddCutoff(cache.Cutoff{Claim: "sub", Value: "victim", Before: r0, Version: 7})
	r.Replace(l)

	if before, ok := r.Cutoff("sub", "victim"); !ok || !before.Equal(r0) {
		t.Errorf("Cutoff after reload = %v (present %v), want the stored %v", before, ok, r0)
	}
	if r.Denied("forged") {
		t.Error("a denial the store does not hold survived the reload")
	}
	if got := r.Version(); got != 7 {
		t.Errorf("Version after reload = %d, want the snapshot's 7", got)
	}
	if !r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "victim", Before: r0.Add(time.Minute), Version: 8}) {
		t.Error("a real change after the reload did not apply")
	}
}

// A database restored from a backup has lower versions than the replica
// holds; its snapshot still replaces everything.
func TestReplicaReplaceTakesLowerVersions(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "42", Before: r0, Version: 900})
	l := r.BeginLoad()
	l.AddCutoff(cache.Cutoff{Claim: "sub", Value: "42", Before: r0.Add(time.Hour), Version: 3})
	r.Replace(l)
	if before, _ := r.Cutoff("sub", "42"); !before.Equal(r0.Add(time.Hour)) {
		t.Errorf("Cutoff = %v, want the restored store's %v", before, r0.Add(time.Hour))
	}
	if got := r.Version(); got != 3 {
		t.Errorf("Version = %d, want 3", got)
	}
}

// A write applied while the snapshot is read may have committed after the
// read saw its row: it stays, merged by version, so an acknowledged write
// never leaves the replica.
func TestReplicaReplaceKeepsWritesMadeDuringTheLoad(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	l := r.BeginLoad()
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "written", Before: r0, Version: 10})
	r.ApplyDenial(cache.Denial{ID: "jti-1", ExpiresAt: r0.Add(time.Hour), Version: 11})
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "later", Before: r0, Version: 12})
	l.AddCutoff(cache.Cutoff{Claim: "sub", Value: "written", Before: r0.Add(-time.Hour), Version: 9}) // read before the write
	l.AddCutoff(cache.Cutoff{Claim: "sub", Value: "later", Before: r0.Add(time.Hour), Version: 13})   // read after a later one
	r.Replace(l)

	for _, tc := range []struct {
		value string
		want  time.Time
	}{{"written", r0}, {"later", r0.Add(time.Hour)}} {
		if before, ok := r.Cutoff("sub", tc.value); !ok || !before.Equal(tc.want) {
			t.Errorf("Cutoff(sub, %s) = %v (present %v), want %v", tc.value, before, ok, tc.want)
		}
	}
	if !r.Denied("jti-1") {
		t.Error("a denial written during the load is gone after Replace")
	}
	if got := r.Version(); got != 13 {
		t.Errorf("Version = %d, want 13", got)
	}

	// The load is over: later writes are not held for another one.
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "after", Before: r0, Version: 14})
	l2 := r.BeginLoad()
	r.Replace(l2)
	if _, ok := r.Cutoff("sub", "after"); ok {
		t.Error("a write made before the second load began survived a snapshot without it")
	}
}

// A denial holds the token's exp; each replica refuses it until exp plus
// its own leeway, and prunes it only then.
func TestReplicaDenialLastsExpPlusLeeway(t *testing.T) {
	for _, leeway := range []time.Duration{0, 30 * time.Second} {
		clock := clocktest.New(r0)
		r := cache.NewReplica(clock, 0, leeway)
		exp := r0.Add(time.Minute)
		r.ApplyDenial(cache.Denial{ID: "j", ExpiresAt: exp, Version: 1})

		clock.Set(exp.Add(leeway - time.Microsecond))
		if !r.Denied("j") {
			t.Errorf("leeway %s: not denied a microsecond before exp + leeway", leeway)
		}
		if rej := r.Reject(nil, 0, "j", "", clock.Now().UnixMicro()); !rej.Denied {
			t.Errorf("leeway %s: Reject does not deny a microsecond before exp + leeway", leeway)
		}
		if _, n := r.Prune(); n != 0 {
			t.Errorf("leeway %s: Prune dropped %d denials before exp + leeway", leeway, n)
		}
		clock.Set(exp.Add(leeway))
		if r.Denied("j") {
			t.Errorf("leeway %s: still denied at exp + leeway", leeway)
		}
		if _, n := r.Prune(); n != 1 {
			t.Errorf("leeway %s: Prune dropped %d denials at exp + leeway, want 1", leeway, n)
		}
	}
}

// A load that ends unused leaves the replica as it was and stops recording.
func TestReplicaEndLoadKeepsTheReplica(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "42", Before: r0, Version: 1})
	l := r.BeginLoad()
	r.EndLoad(l)
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "43", Before: r0, Version: 2})
	if cs, _ := r.Snapshot(); len(cs) != 2 {
		t.Errorf("after EndLoad the replica holds %d cutoffs, want 2", len(cs))
	}
}
