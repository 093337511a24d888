package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestForgedNotificationsAreHints: PostgreSQL checks no privilege on NOTIFY.
// A role that can only log in forges a cutoff lowered to 1970 with the
// largest version, the same for a denial, and ten payloads that are not
// JSON. None of it reaches the replica, none forces a reconnect, a later
// real change still applies, and each is counted as ignored.
func TestForgedNotificationsAreHints(t *testing.T) {
	url := migratedDB(t)
	su := connect(t, url)
	cfg := testConfig(t, url)
	cfg.Heartbeat = time.Minute // no heartbeat timeout on a busy machine: the test counts reconnects
	a := start(t, cfg)
	a.waitSynced(t)
	ctx := context.Background()
	future := time.Now().Add(time.Hour)
	held, err := a.RevokeAll(ctx, "sub", "victim", future)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken(ctx, "jti-victim", future); err != nil {
		t.Fatal(err)
	}

	forger := connect(t, asRole(t, url, newRole(t, su, "forger")))
	var pgErr *pgconn.PgError
	if _, err := forger.Exec(ctx, "SELECT revokd.revoke_all('sub', 'victim', '1970-01-01Z')"); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("the forger calls revokd.revoke_all: error %v, want insufficient_privilege 42501", err)
	}
	attempts, ignored := a.attempts.Load(), a.Status().NotificationsIgnored

	mustExec(t, forger, `NOTIFY revokd, '{"kind":"cutoff","claim":"sub","key":"victim","time":0,"version":9223372036854775807}'`)
	mustExec(t, forger, `NOTIFY revokd, '{"kind":"denial","key":"jti-victim","time":0,"version":9223372036854775807}'`)
	for range 10 {
		mustExec(t, forger, "NOTIFY revokd, 'x'")
	}
	// Notifications arrive in commit order: once this real change has
	// applied, every forged one has been handled.
	var later time.Time
	if err := su.QueryRow(ctx, "SELECT revokd.revoke_all('sub', 'victim', $1)", future.Add(time.Hour)).Scan(&later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the later real cutoff", func() bool { got, _ := a.replica.Cutoff("sub", "victim"); return got.Equal(later) })

	if !later.After(held) {
		t.Fatalf("the real change %v is not later than %v", later, held)
	}
	if !a.replica.Denied("jti-victim") {
		t.Error("a forged notification lifted a denial")
	}
	if got := a.attempts.Load(); got != attempts {
		t.Errorf("feed connection attempts = %d, want %d: forged notifications forced a reconnect", got, attempts)
	}
	if got := a.syncs.Load(); got != 1 {
		t.Errorf("snapshots loaded = %d, want 1", got)
	}
	if got := a.Status().NotificationsIgnored - ignored; got != 12 {
		t.Errorf("notifications ignored = %d, want 12 (two forged, ten garbage)", got)
	}
	waitConverged(t, su, a)
}

// TestOverLimitNotificationsCostNoRead: a key the store could never hold is
// ignored and counted without a read; one within the limits for a row that
// does not exist costs one read and is counted too.
func TestOverLimitNotificationsCostNoRead(t *testing.T) {
	url := migratedDB(t)
	su := connect(t, url)
	cfg := testConfig(t, url)
	cfg.Heartbeat = time.Minute
	a := start(t, cfg)
	a.waitSynced(t)
	tests := []struct {
		name    string
		payload string
	}{
		{"claim over 64 bytes", fmt.Sprintf(`{"kind":"cutoff","claim":"%065d","key":"v","version":1}`, 0)},
		{"value over 512 bytes", fmt.Sprintf(`{"kind":"cutoff","claim":"sub","key":"%0513d","version":1}`, 0)},
		{"token id over 512 bytes", fmt.Sprintf(`{"kind":"denial","key":"%0513d","version":1}`, 0)},
		{"NUL in a token id", `{"kind":"denial","key":"a\u0000b","version":1}`},
		{"unknown kind", `{"kind":"drop","key":"a","version":1}`},
		{"no such row", `{"kind":"denial","key":"nobody","version":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := a.Status().NotificationsIgnored
			mustExec(t, su, "SELECT pg_notify('revokd', $1)", tc.payload)
			marker := "marker-" + tc.name
			mustExec(t, su, "SELECT revokd.revoke_token($1, now() + interval '1 hour')", marker)
			waitFor(t, "marker denial", func() bool { return a.replica.Denied(marker) })
			if got := a.Status().NotificationsIgnored - before; got != 1 {
				t.Errorf("notifications ignored = %d, want 1", got)
			}
		})
	}
	if got := a.syncs.Load(); got != 1 {
		t.Errorf("snapshots loaded = %d, want 1", got)
	}
}

// TestSnapshotReplacesReplica: a database restored from an older backup
// lacks rows the replica holds and has lower versions. The reload after the
// restore leaves the replica exactly what the tables hold.
func TestSnapshotReplacesReplica(t *testing.T) {
	url := migratedDB(t)
	su := connect(t, url)
	a := startSynced(t, url)
	ctx := context.Background()
	future := time.Now().Add(time.Hour)
	for i := range 5 {
		if _, err := a.RevokeAll(ctx, "sub", "kept", future.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.RevokeAll(ctx, "sub", "lost", future); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken(ctx, "lost", future); err != nil {
		t.Fatal(err)
	}

	// The restore, done by hand: with the triggers off nothing is notified,
	// as nothing is when a backup is put back.
	mustExec(t, su, "SET session_replication_role = replica")
	mustExec(t, su, "DELETE FROM revokd.denials")
	mustExec(t, su, "DELETE FROM revokd.cutoffs WHERE value = 'lost'")
	mustExec(t, su, "UPDATE revokd.cutoffs SET before = $1, version = 1 WHERE value = 'kept'", future)
	mustExec(t, su, "INSERT INTO revokd.denials (token_id, expires_at, version) VALUES ('restored', $1, 2)", future)
	mustExec(t, su, "SELECT setval('revokd.version_seq', 2)")
	mustExec(t, su, "RESET session_replication_role")

	var killed bool
	if err := su.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int(a.listenerPID.Load())).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(listener) = %v, %v", killed, err)
	}
	waitFor(t, "a second snapshot", func() bool { return a.syncs.Load() == 2 })
	cs, ds := dbState(t, su)
	if err := sameState(a.replica, cs, ds); err != nil {
		t.Errorf("after the reload: %v", err)
	}
	if got := a.replica.Version(); got != 2 {
		t.Errorf("replica version = %d, want 2, the restored database's highest", got)
	}
	// And the feed goes on from the restored versions.
	mustExec(t, su, "SELECT revokd.revoke_token('after', now() + interval '1 hour')")
	waitFor(t, "denial after the restore", func() bool { return a.replica.Denied("after") })
	waitConverged(t, su, a)
}

// TestCommitOrderAgainstVersionOrder: two transactions take versions in one
// order and commit in the other; the feed applies both.
func TestCommitOrderAgainstVersionOrder(t *testing.T) {
	url := migratedDB(t)
	a := startSynced(t, url)
	ctx := context.Background()
	first, second := connect(t, url), connect(t, url)
	tx1, err := first.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	tx2, err := second.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(ctx)
	mustExec(t, tx1.Conn(), "SELECT revokd.revoke_all('sub', 'first'), revokd.revoke_token('first', now() + interval '1 hour')")
	mustExec(t, tx2.Conn(), "SELECT revokd.revoke_all('sub', 'second'), revokd.revoke_token('second', now() + interval '1 hour')")
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, connect(t, url), a)
}
