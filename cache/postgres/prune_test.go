package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
)

func TestPrune(t *testing.T) {
	url := migratedDB(t)
	conn := connect(t, url)
	// Rows are written relative to the database's clock; the daemon's clock
	// is then moved well past them, so only the injected clock decides.
	mustExec(t, conn, `INSERT INTO revokd.denials (token_id, expires_at) VALUES
		('expired-long-ago', now() + interval '1 hour'),
		('expired-within-leeway', now() + interval '1 day 23 hours 45 minutes'),
		('live', now() + interval '3 days')`)
	mustExec(t, conn, `INSERT INTO revokd.cutoffs (claim, value, before) VALUES
		('sub', 'ancient', now() - interval '40 days'),
		('sub', 'within-leeway', now() - interval '28 days 10 minutes'),
		('sub', 'recent', now() - interval '1 day')`)

	cfg := testConfig(t, url)
	var dbNow time.Time
	if err := conn.QueryRow(context.Background(), "SELECT now()").Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(dbNow.Add(2 * 24 * time.Hour)) // two days on
	cfg.Clock, cfg.Replica = clock, cache.NewReplica(clock, 30*24*time.Hour, 30*time.Minute)
	cfg.Leeway, cfg.MaxSessionAge = 30*time.Minute, 30*24*time.Hour
	a := start(t, cfg)
	a.waitSynced(t)
	ctx := context.Background()
	// The snapshot skips what the clock says can't reject anything any more:
	// a denial is refused until its exp plus the leeway.
	if c, d := a.replica.Sizes(); c != 1 || d != 2 {
		t.Errorf("replica loaded %d cutoffs, %d denials; want 1, 2 (only 'recent', 'live' and 'expired-within-leeway')", c, d)
	}

	// Another daemon holds the prune lock: this one deletes nothing.
	tx, err := connect(t, url).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx.Conn(), "SELECT pg_advisory_xact_lock($1)", pruneLockKey)
	res, err := a.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res != (PruneResult{}) {
		t.Errorf("Prune while another holds the lock = %+v, want nothing done", res)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	res, err = a.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PruneResult{Locked: true, Denials: 1, Cutoffs: 1}); res != want {
		t.Errorf("Prune = %+v, want %+v", res, want)
	}
	rows, _ := conn.Query(ctx, "SELECT token_id FROM revokd.denials UNION ALL SELECT value FROM revokd.cutoffs ORDER BY 1")
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	// "within-leeway" is older than the maximum session age by less than the
	// leeway: a daemon whose clock runs behind may still need it.
	want := []string{"expired-within-leeway", "live", "recent", "within-leeway"}
	if !slices.Equal(left, want) {
		t.Errorf("rows left = %v, want %v", left, want)
	}
}

func TestPruneLoop(t *testing.T) {
	url := migratedDB(t)
	conn := connect(t, url)
	mustExec(t, conn, "SELECT revokd.revoke_token('soon', now() + interval '1 minute'), revokd.revoke_token('later', now() + interval '1 day')")
	cfg := testConfig(t, url)
	cfg.PruneInterval = time.Hour
	a := start(t, cfg)
	a.waitSynced(t)
	if _, denials := a.replica.Sizes(); denials != 2 {
		t.Fatalf("replica holds %d denials, want 2", denials)
	}
	a.clock.WaitForWaiters(1) // the prune loop's ticker
	a.clock.Add(time.Hour)    // 'soon' has expired by the daemon's clock, and the loop ticks
	waitFor(t, "replica pruned", func() bool { _, d := a.replica.Sizes(); return d == 1 })
	waitFor(t, "database pruned", func() bool {
		var n int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM revokd.denials").Scan(&n)
		return err == nil && n == 1
	})
	if !a.replica.Denied("later") {
		t.Error("pruning dropped a live denial")
	}
}

// TestPruneKeepsWhatAnotherDaemonNeeds: a daemon prunes cutoffs older than
// its own maximum session age only when no other daemon following the same
// database declared a longer one, or none. Otherwise the other daemon's next
// snapshot would lack cutoffs that still reject tokens it accepts.
func TestPruneKeepsWhatAnotherDaemonNeeds(t *testing.T) {
	tests := []struct {
		name        string
		otherMaxAge time.Duration // 0: the other daemon has no maximum
		wantPruned  int64
	}{
		{"other daemon has a shorter maximum", 10 * 24 * time.Hour, 1},
		{"other daemon has a longer maximum", 60 * 24 * time.Hour, 0},
		{"other daemon has no maximum", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := migratedDB(t)
			mustExec(t, connect(t, url), `INSERT INTO revokd.cutoffs (claim, value, before)
				VALUES ('sub', 'forty-days-ago', now() - interval '40 days')`)

			other := testConfig(t, url)
			other.MaxSessionAge = tc.otherMaxAge
			start(t, other).waitSynced(t) // its feed declares its maximum

			cfg := testConfig(t, url)
			cfg.MaxSessionAge, cfg.Leeway = 30*24*time.Hour, time.Minute
			a := start(t, cfg)
			a.waitSynced(t)
			res, err := a.Prune(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Cutoffs != tc.wantPruned {
				t.Errorf("pruned %d cutoffs, want %d", res.Cutoffs, tc.wantPruned)
			}
		})
	}
}

// TestDenialLastsForEachDaemonsLeeway: a denial stores the token's exp.
// Daemon A (leeway 0) revokes; daemon B (leeway 60s) still refuses the id
// from exp to exp+60s, keeps it across a reload in that window, and A's
// prune keeps the row until exp+60s, the largest leeway declared.
func TestDenialLastsForEachDaemonsLeeway(t *testing.T) {
	url := migratedDB(t)
	su := connect(t, url)
	ctx := context.Background()
	var dbNow time.Time
	if err := su.QueryRow(ctx, "SELECT now()").Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	dbNow = dbNow.Truncate(time.Microsecond)
	exp := dbNow.Add(time.Hour)

	daemonWith := func(leeway time.Duration) *daemon {
		cfg := testConfig(t, url)
		clock := clocktest.New(dbNow)
		cfg.Clock, cfg.Replica, cfg.Leeway = clock, cache.NewReplica(clock, 0, leeway), leeway
		cfg.Heartbeat = time.Minute
		d := start(t, cfg)
		d.waitSynced(t) // its feed has declared its leeway
		return d
	}
	a, b := daemonWith(0), daemonWith(time.Minute)

	if stored, err := a.RevokeToken(ctx, "jti", exp); err != nil || !stored {
		t.Fatalf("RevokeToken = %v, %v; want true", stored, err)
	}
	var stored time.Time
	if err := su.QueryRow(ctx, "SELECT expires_at FROM revokd.denials WHERE token_id = 'jti'").Scan(&stored); err != nil || !stored.Equal(exp) {
		t.Fatalf("stored expires_at = %v, %v; want the token's exp %v, no leeway added", stored, err, exp)
	}
	waitFor(t, "B's replica to hold the denial", func() bool { return b.replica.Denied("jti") })

	steps := []struct {
		name             string
		at               time.Time
		aDenies, bDenies bool
	}{
		{"just before exp", exp.Add(-time.Microsecond), true, true},
		{"at exp", exp, false, true},
		{"within B's leeway", exp.Add(59 * time.Second), false, true},
		{"at exp plus B's leeway", exp.Add(time.Minute), false, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			a.clock.Set(st.at)
			b.clock.Set(st.at)
			if got := a.replica.Denied("jti"); got != st.aDenies {
				t.Errorf("A denies = %v, want %v", got, st.aDenies)
			}
			if got := b.replica.Denied("jti"); got != st.bDenies {
				t.Errorf("B denies = %v, want %v", got, st.bDenies)
			}
		})
	}

	t.Run("B's reload within its leeway keeps the denial", func(t *testing.T) {
		b.clock.Set(exp.Add(30 * time.Second))
		syncs := b.syncs.Load()
		if _, err := su.Exec(ctx, "SELECT pg_terminate_backend($1)", int(b.listenerPID.Load())); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "B's next snapshot", func() bool { return b.syncs.Load() > syncs })
		if !b.replica.Denied("jti") {
			t.Error("B's snapshot dropped a denial it still refuses")
		}
	})

	t.Run("A's prune keeps the row until exp plus the largest leeway", func(t *testing.T) {
		a.clock.Set(exp.Add(59 * time.Second))
		if res, err := a.Prune(ctx); err != nil || res.Denials != 0 {
			t.Errorf("Prune at exp+59s = %+v, %v; want no denial deleted", res, err)
		}
		a.clock.Set(exp.Add(time.Minute + time.Microsecond))
		if res, err := a.Prune(ctx); err != nil || res.Denials != 1 {
			t.Errorf("Prune after exp+60s = %+v, %v; want the denial deleted", res, err)
		}
	})
}

// TestRevokeTokenUsesTheLargestLeeway: revoke_token stores nothing only
// once exp plus the largest leeway declared has passed; a held denial past
// that counts as none.
func TestRevokeTokenUsesTheLargestLeeway(t *testing.T) {
	conn := connect(t, migratedDB(t))
	ctx := context.Background()
	mustExec(t, conn, "UPDATE revokd.prune_policy SET keep_denials = '60 seconds'")
	mustExec(t, conn, `INSERT INTO revokd.denials (token_id, expires_at) VALUES
		('held-within', now() - interval '30 seconds'), ('held-past', now() - interval '90 seconds')`)
	tests := []struct {
		name, id, exp string
		want          bool
	}{
		{"exp passed, within the leeway", "within", "now() - interval '30 seconds'", true},
		{"exp plus the leeway passed", "past", "now() - interval '90 seconds'", false},
		{"held denial within the leeway", "held-within", "now() + interval '1 hour'", false},
		{"held denial past the leeway counts as new", "held-past", "now() + interval '1 hour'", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			if err := conn.QueryRow(ctx, "SELECT revokd.revoke_token($1, "+tc.exp+")", tc.id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("revoke_token(%s, %s) = %v, want %v", tc.id, tc.exp, got, tc.want)
			}
		})
	}
}
