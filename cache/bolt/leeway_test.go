package bolt

import (
	"context"
	"testing"
	"time"
)

// TestRevokeTokenLeeway: a denial stores the token's own exp and is in
// force until exp plus the daemon's leeway, for reporting, for extending and
// for the replica.
func TestRevokeTokenLeeway(t *testing.T) {
	const leeway = 30 * time.Second
	tests := []struct {
		name       string
		prior      time.Time     // exp of a denial of "a" stored at t0; zero: none
		advance    time.Duration // clock moves after prior, before the call
		exp        time.Time
		wantStored bool
		wantDenied bool
		wantRow    time.Time // exp stored afterwards; zero: no row
	}{
		{name: "unexpired: stored as its exp, without the leeway", exp: t0.Add(time.Hour),
			wantStored: true, wantDenied: true, wantRow: t0.Add(time.Hour)},
		{name: "expired within the leeway is still stored", exp: t0.Add(-10 * time.Second),
			wantStored: true, wantDenied: true, wantRow: t0.Add(-10 * time.Second)},
		{name: "expired one microsecond short of the leeway is stored", exp: t0.Add(-leeway + time.Microsecond),
			wantStored: true, wantDenied: true, wantRow: t0.Add(-leeway + time.Microsecond)},
		{name: "exp plus leeway is now: nothing stored", exp: t0.Add(-leeway)},
		{name: "expired past the leeway: nothing stored", exp: t0.Add(-time.Hour)},
		{name: "a denial within its leeway is in force: not new, and extended", prior: t0.Add(time.Minute), advance: time.Minute + 10*time.Second,
			exp: t0.Add(time.Hour), wantStored: false, wantDenied: true, wantRow: t0.Add(time.Hour)},
		{name: "a denial within its leeway is in force: an earlier exp changes nothing", prior: t0.Add(time.Minute), advance: time.Minute + 10*time.Second,
			exp: t0.Add(time.Minute - time.Second), wantStored: false, wantDenied: true, wantRow: t0.Add(time.Minute)},
		{name: "a denial past its leeway is over: a new one is stored", prior: t0.Add(time.Minute), advance: time.Minute + leeway,
			exp: t0.Add(time.Hour), wantStored: true, wantDenied: true, wantRow: t0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLeewayFixture(t, leeway)
			if !tc.prior.IsZero() && !mustRevokeToken(t, f.src, "a", tc.prior) {
				t.Fatalf("prior RevokeToken stored nothing")
			}
			f.clock.Add(tc.advance)
			if got := mustRevokeToken(t, f.src, "a", tc.exp); got != tc.wantStored {
				t.Errorf("stored = %v, want %v", got, tc.wantStored)
			}
			if got := f.replica.Denied("a"); got != tc.wantDenied {
				t.Errorf("replica Denied = %v, want %v", got, tc.wantDenied)
			}
			_, denials := rows(t, f.src)
			row, ok := denials["a"]
			switch {
			case tc.wantRow.IsZero() && ok:
				t.Errorf("row = %+v, want none", row)
			case !tc.wantRow.IsZero() && (!ok || row.micros != tc.wantRow.UnixMicro()):
				t.Errorf("row = %+v (present %v), want exp %d", row, ok, tc.wantRow.UnixMicro())
			}
		})
	}
}

// TestPruneKeepsDenialsUntilExpPlusLeeway: pruning the store and the
// replica keeps a denial for the leeway past its exp, and no longer.
func TestPruneKeepsDenialsUntilExpPlusLeeway(t *testing.T) {
	const leeway = 30 * time.Second
	f := newLeewayFixture(t, leeway)
	exp := t0.Add(time.Minute)
	mustRevokeToken(t, f.src, "a", exp)
	steps := []struct {
		name       string
		at         time.Time
		wantPruned int
		wantDenied bool
	}{
		{"at exp", exp, 0, true},
		{"a microsecond before exp plus leeway", exp.Add(leeway - time.Microsecond), 0, true},
		{"at exp plus leeway", exp.Add(leeway), 1, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f.clock.Set(st.at)
			n, err := f.src.Prune(context.Background())
			if err != nil {
				t.Fatalf("Prune: %v", err)
			}
			if n != st.wantPruned {
				t.Errorf("Prune deleted %d rows, want %d", n, st.wantPruned)
			}
			_, denials := rows(t, f.src)
			_, replicaDenials := f.replica.Sizes()
			if held := len(denials) == 1 && replicaDenials == 1; held != st.wantDenied {
				t.Errorf("store rows %d, replica denials %d; want the denial kept = %v", len(denials), replicaDenials, st.wantDenied)
			}
			if got := f.replica.Denied("a"); got != st.wantDenied {
				t.Errorf("replica Denied = %v, want %v", got, st.wantDenied)
			}
		})
	}
}

// TestZeroBeforeIsTheStoresNow: a revoke-all without a before takes the
// store's clock when the write is made.
func TestZeroBeforeIsTheStoresNow(t *testing.T) {
	f := newFixture(t)
	f.clock.Add(time.Minute)
	want := t0.Add(time.Minute)
	if got := mustRevokeAll(t, f.src, "sub", "7", time.Time{}); !got.Equal(want) {
		t.Errorf("RevokeAll(zero) = %v, want the store's now %v", got, want)
	}
	if held, ok := f.replica.Cutoff("sub", "7"); !ok || !held.Equal(want) {
		t.Errorf("replica cutoff = %v (present %v), want %v", held, ok, want)
	}
	// A later zero before raises it to the new now.
	f.clock.Add(time.Second)
	if got := mustRevokeAll(t, f.src, "sub", "7", time.Time{}); !got.Equal(want.Add(time.Second)) {
		t.Errorf("second RevokeAll(zero) = %v, want %v", got, want.Add(time.Second))
	}
}
