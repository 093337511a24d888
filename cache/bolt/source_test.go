package bolt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/revokd/revokd/cache"
)

// fill makes a mix of every kind of change, including a ban lowered by an
// unban and a cutoff raised twice.
func fill(t *testing.T, s *Source) {
	t.Helper()
	mustRevokeToken(t, s, "jti-1", t0.Add(time.Hour))
	mustRevokeToken(t, s, "sha256:abc", t0.Add(2*time.Hour+time.Microsecond))
	mustRevokeAll(t, s, "sub", "12345678901234567890", t0.Add(-time.Minute))
	mustRevokeAll(t, s, "sub", "12345678901234567890", t0.Add(-7*time.Microsecond))
	mustRevokeAll(t, s, "sid", "session-a", t0)
	mustRevokeAll(t, s, "sub", "banned", t0.Add(48*time.Hour))
	mustRevokeAll(t, s, "sub", "unbanned", t0.Add(48*time.Hour))
	mustUnban(t, s, "sub", "unbanned")
	mustRevokeAll(t, s, "tenant", "a:b", t0)
}

func TestRestartKeepsEverything(t *testing.T) {
	f := newFixture(t)
	load(t, f.src)
	fill(t, f.src)
	wantCutoffs, wantDenials := f.replica.Snapshot()
	wantVersion := f.replica.Version()

	f.reopen(t, Config{})

	gotCutoffs, gotDenials := f.replica.Snapshot()
	if !reflect.DeepEqual(gotCutoffs, wantCutoffs) {
		t.Errorf("cutoffs after restart:\n got %+v\nwant %+v", gotCutoffs, wantCutoffs)
	}
	if !reflect.DeepEqual(gotDenials, wantDenials) {
		t.Errorf("denials after restart:\n got %+v\nwant %+v", gotDenials, wantDenials)
	}
	if got := f.replica.Version(); got != wantVersion {
		t.Errorf("version after restart = %d, want %d", got, wantVersion)
	}
	// The sequence carries on: the next change is newer than all before.
	mustRevokeToken(t, f.src, "after-restart", t0.Add(time.Hour))
	if got := f.replica.Version(); got != wantVersion+1 {
		t.Errorf("first version after restart = %d, want %d", got, wantVersion+1)
	}
}

// TestReloadCatchesUpMissedChanges: a replica that was not told about some
// changes (they went through another source on the same file) holds them
// all after the store is loaded again, including a cutoff that went down.
func TestReloadCatchesUpMissedChanges(t *testing.T) {
	f := newFixture(t)
	stale := f.replica
	load(t, f.src)
	mustRevokeAll(t, f.src, "sub", "banned", t0.Add(48*time.Hour))
	mustRevokeToken(t, f.src, "seen", t0.Add(time.Hour))
	if err := f.src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Another daemon's replica writes while stale hears nothing.
	other := cache.NewReplica(f.clock, 0, 0)
	s2 := f.open(t, Config{Replica: other})
	load(t, s2)
	mustUnban(t, s2, "sub", "banned")
	mustRevokeToken(t, s2, "missed", t0.Add(time.Hour))
	mustRevokeAll(t, s2, "sid", "missed", t0)
	wantCutoffs, wantDenials := other.Snapshot()
	if err := s2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if stale.Denied("missed") {
		t.Fatalf("stale replica already denies %q; the test would prove nothing", "missed")
	}

	s3 := f.open(t, Config{Replica: stale})
	load(t, s3)
	gotCutoffs, gotDenials := stale.Snapshot()
	if !reflect.DeepEqual(gotCutoffs, wantCutoffs) || !reflect.DeepEqual(gotDenials, wantDenials) {
		t.Errorf("after reload:\n got %+v %+v\nwant %+v %+v", gotCutoffs, gotDenials, wantCutoffs, wantDenials)
	}
	if got, _ := stale.Cutoff("sub", "banned"); !got.Equal(t0) {
		t.Errorf("unbanned cutoff = %v, want lowered to %v", got, t0)
	}
}

func TestSecondOpenFails(t *testing.T) {
	f := newFixture(t)
	_, err := OpenConfig(Config{Path: f.path, Replica: cache.NewReplica(f.clock, 0, 0), Clock: f.clock, LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), f.path) {
		t.Errorf("second Open: error %q does not name %s", err, f.path)
	}
	// The first is untouched.
	if !mustRevokeToken(t, f.src, "a", t0.Add(time.Hour)) {
		t.Errorf("first store refused a write after a second Open failed")
	}
}

func TestOpenRefusesUnknownFormat(t *testing.T) {
	f := newFixture(t)
	err := f.src.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("99")) })
	if err != nil {
		t.Fatalf("write format: %v", err)
	}
	if err := f.src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = Open(f.path, f.replica, f.clock, nil)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), f.path) {
		t.Errorf("Open of format 99: err = %v, want ErrFormat naming the file", err)
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	want := cache.SourceStatus{Kind: "bolt", State: cache.StateConnecting, LastContact: t0}
	if got := f.src.Status(); got != want {
		t.Errorf("Status before load = %+v, want %+v", got, want)
	}
	load(t, f.src)
	f.clock.Add(time.Hour)
	want = cache.SourceStatus{Kind: "bolt", State: cache.StateSynced, LastContact: t0.Add(time.Hour)}
	if got := f.src.Status(); got != want {
		t.Errorf("Status after load = %+v, want %+v", got, want)
	}
}

func TestPrune(t *testing.T) {
	type want struct{ cutoffs, denials []string }
	tests := []struct {
		name          string
		maxSessionAge time.Duration
		advance       time.Duration
		wantPruned    int
		want          want
	}{
		{name: "nothing expired", advance: 0, wantPruned: 0,
			want: want{[]string{"old", "recent", "ban"}, []string{"short", "at-limit", "long"}}},
		{name: "expired denials only", advance: time.Hour, wantPruned: 2,
			want: want{[]string{"old", "recent", "ban"}, []string{"long"}}},
		{name: "cutoffs kept forever without a max session age", advance: 365 * 24 * time.Hour, wantPruned: 3,
			want: want{[]string{"old", "recent", "ban"}, nil}},
		{name: "cutoffs older than the max session age", maxSessionAge: 24 * time.Hour, advance: time.Hour, wantPruned: 3,
			want: want{[]string{"recent", "ban"}, []string{"long"}}},
		{name: "a ban outlives the max session age until it ends", maxSessionAge: time.Hour, advance: 3 * time.Hour, wantPruned: 5,
			want: want{[]string{"ban"}, nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.replica = cache.NewReplica(f.clock, tc.maxSessionAge, 0)
			if err := f.src.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			f.src = f.open(t, Config{MaxSessionAge: tc.maxSessionAge})
			mustRevokeAll(t, f.src, "sub", "old", t0.Add(-24*time.Hour-time.Minute))
			mustRevokeAll(t, f.src, "sub", "recent", t0.Add(-time.Minute))
			mustRevokeAll(t, f.src, "sub", "ban", t0.Add(4*time.Hour))
			mustRevokeToken(t, f.src, "short", t0.Add(time.Minute))
			mustRevokeToken(t, f.src, "at-limit", t0.Add(time.Hour)) // expires exactly when the clock lands
			mustRevokeToken(t, f.src, "long", t0.Add(2*time.Hour))
			f.clock.Add(tc.advance)

			n, err := f.src.Prune(context.Background())
			if err != nil {
				t.Fatalf("Prune: %v", err)
			}
			if n != tc.wantPruned {
				t.Errorf("Prune deleted %d rows, want %d", n, tc.wantPruned)
			}
			cutoffs, denials := rows(t, f.src)
			gotC, gotD := map[string]bool{}, map[string]bool{}
			for k := range cutoffs {
				gotC[strings.TrimPrefix(k, "sub\x00")] = true
			}
			for k := range denials {
				gotD[k] = true
			}
			wantC, wantD := map[string]bool{}, map[string]bool{}
			for _, k := range tc.want.cutoffs {
				wantC[k] = true
			}
			for _, k := range tc.want.denials {
				wantD[k] = true
			}
			if !reflect.DeepEqual(gotC, wantC) || !reflect.DeepEqual(gotD, wantD) {
				t.Errorf("rows left: cutoffs %v denials %v, want cutoffs %v denials %v", gotC, gotD, wantC, wantD)
			}
			rc, rd := f.replica.Sizes()
			if rc != len(wantC) || rd != len(wantD) {
				t.Errorf("replica sizes after prune = %d cutoffs %d denials, want %d and %d", rc, rd, len(wantC), len(wantD))
			}
		})
	}
}

// TestPruneManyRows crosses several prune transactions.
func TestPruneManyRows(t *testing.T) {
	f := newFixture(t)
	const n = 3*pruneBatch + 17
	err := f.src.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDenials)
		for i := range n {
			exp := t0.Add(time.Minute) // odd ids expire, even ones do not
			if i%2 == 0 {
				exp = t0.Add(time.Hour)
			}
			if err := b.Put(fmt.Appendf(nil, "id-%06d", i), record{exp.UnixMicro(), int64(i + 1)}.encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	f.clock.Add(30 * time.Minute)
	got, err := f.src.Prune(context.Background())
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if want := n / 2; got != want {
		t.Errorf("Prune deleted %d, want %d", got, want)
	}
	_, denials := rows(t, f.src)
	for k, r := range denials {
		if r.micros <= f.clock.Now().UnixMicro() {
			t.Errorf("expired denial %q survived", k)
		}
	}
	if want := n - n/2; len(denials) != want {
		t.Errorf("%d denials left, want %d", len(denials), want)
	}
}

// TestRunPrunesOnItsInterval drives Run's own loop by the clock: once the
// loop's ticker is armed, moving the clock an interval makes it prune; the
// test waits for the effect.
func TestRunPrunesOnItsInterval(t *testing.T) {
	f := newFixture(t)
	mustRevokeToken(t, f.src, "short", t0.Add(time.Minute))
	if err := f.src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.src = f.open(t, Config{PruneInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.src.Run(ctx) }()
	f.clock.WaitForWaiters(1) // loaded, and the prune ticker armed
	f.clock.Add(time.Hour)
	waitFor(t, "prune", func() bool { _, d := rows(t, f.src); return len(d) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
