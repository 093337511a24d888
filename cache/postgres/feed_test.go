package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

func TestTwoDaemonsConverge(t *testing.T) {
	url := migratedDB(t)
	conn := connect(t, url)
	// Something committed before either starts arrives through the snapshot.
	mustExec(t, conn, "SELECT revokd.revoke_all('sub', 'before-start', '2020-01-01Z')")
	a, b := startSynced(t, url), startSynced(t, url)
	waitConverged(t, conn, a, b)
	ctx := context.Background()
	future := time.Now().Add(time.Hour)

	tests := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"revoke token through a daemon", func(t *testing.T) {
			if stored, err := a.RevokeToken(ctx, "jti-a", future); err != nil || !stored {
				t.Fatalf("RevokeToken = %v, %v; want true", stored, err)
			}
		}},
		{"revoke all through the other daemon", func(t *testing.T) {
			if _, err := b.RevokeAll(ctx, "sub", "42", time.Now()); err != nil {
				t.Fatal(err)
			}
		}},
		{"ban", func(t *testing.T) {
			if _, err := a.RevokeAll(ctx, "sid", "s-1", future); err != nil {
				t.Fatal(err)
			}
		}},
		{"unban", func(t *testing.T) {
			if _, err := b.Unban(ctx, "sid", "s-1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"SQL functions", func(t *testing.T) {
			mustExec(t, conn, "SELECT revokd.revoke_token('jti-sql', now() + interval '1 hour'), revokd.revoke_all('org', 'acme')")
		}},
		{"direct insert", func(t *testing.T) {
			mustExec(t, conn, "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('jti-direct', now() + interval '1 hour')")
		}},
		{"direct update", func(t *testing.T) {
			mustExec(t, conn, "UPDATE revokd.cutoffs SET before = before + interval '1 second' WHERE claim = 'sub' AND value = 'before-start'")
		}},
		{"extend a denial", func(t *testing.T) {
			mustExec(t, conn, "SELECT revokd.revoke_token('jti-a', now() + interval '2 hours')")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			waitConverged(t, conn, a, b)
		})
	}
}

func TestWriteIsVisibleBeforeReturning(t *testing.T) {
	url := migratedDB(t)
	a := startSynced(t, url)
	ctx := context.Background()
	now := time.Now()
	// No waiting: the very next read of the same replica must see each write.
	if _, err := a.RevokeToken(ctx, "jti", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !a.replica.Denied("jti") {
		t.Error("denial not in the replica when RevokeToken returned")
	}
	got, err := a.RevokeAll(ctx, "sub", "7", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if held, ok := a.replica.Cutoff("sub", "7"); !ok || !held.Equal(got) {
		t.Errorf("replica cutoff = %v, %v; want %v returned by RevokeAll", held, ok, got)
	}
	if lower, err := a.RevokeAll(ctx, "sub", "7", now); err != nil || !lower.Equal(got) {
		t.Errorf("RevokeAll with an earlier cutoff = %v, %v; want unchanged %v", lower, err, got)
	}
	unbanned, err := a.Unban(ctx, "sub", "7")
	if err != nil {
		t.Fatal(err)
	}
	if !unbanned.Before(got) {
		t.Errorf("Unban returned %v, want earlier than the ban %v", unbanned, got)
	}
	if held, _ := a.replica.Cutoff("sub", "7"); !held.Equal(unbanned) {
		t.Errorf("replica cutoff after Unban = %v, want %v", held, unbanned)
	}
	if none, err := a.Unban(ctx, "sub", "nobody"); err != nil || !none.IsZero() {
		t.Errorf("Unban with no cutoff = %v, %v; want zero time", none, err)
	}
	if stored, err := a.RevokeToken(ctx, "expired", now.Add(-time.Second)); err != nil || stored {
		t.Errorf("RevokeToken of an expired token = %v, %v; want false", stored, err)
	}
}

func TestAppTransaction(t *testing.T) {
	url := migratedDB(t)
	a := startSynced(t, url)
	app := connect(t, url)
	ctx := context.Background()

	tests := []struct {
		name   string
		commit bool
	}{
		{"committed", true},
		{"rolled back", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, user := "tx-"+tc.name, "user-"+tc.name
			tx, err := app.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The app's own work and the revocation, in one transaction.
			mustExec(t, tx.Conn(), "CREATE TEMP TABLE IF NOT EXISTS passwords (user_id text, hash text)")
			mustExec(t, tx.Conn(), "INSERT INTO passwords VALUES ($1, 'new-hash')", user)
			mustExec(t, tx.Conn(), "SELECT revokd.revoke_all('sub', $1), revokd.revoke_token($2, now() + interval '1 hour')", user, id)
			if tc.commit {
				err = tx.Commit(ctx)
			} else {
				err = tx.Rollback(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			// Notifications arrive in commit order: once a marker committed
			// afterwards has arrived, anything committed before it has too.
			marker := "marker-" + tc.name
			mustExec(t, app, "SELECT revokd.revoke_token($1, now() + interval '1 hour')", marker)
			waitFor(t, "marker denial", func() bool { return a.replica.Denied(marker) })
			_, hasCutoff := a.replica.Cutoff("sub", user)
			if got := a.replica.Denied(id); got != tc.commit {
				t.Errorf("denied(%s) = %v, want %v", id, got, tc.commit)
			}
			if hasCutoff != tc.commit {
				t.Errorf("cutoff for %s present = %v, want %v", user, hasCutoff, tc.commit)
			}
		})
	}
}

func TestListenerKilledCatchesUp(t *testing.T) {
	url := migratedDB(t)
	cfg := testConfig(t, url)
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The hook holds the feed's reconnect until the test has committed
	// revocations while it had no connection: those notifications are lost
	// for good, and only the fresh snapshot can bring them.
	reconnecting := make(chan struct{})
	release := make(chan struct{})
	s.connectHook = func(ctx context.Context) error {
		if s.attempts.Load() == 2 {
			close(reconnecting)
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}
	a := run(t, s)
	a.waitSynced(t)
	conn := connect(t, url)
	mustExec(t, conn, "SELECT revokd.revoke_token('before-kill', now() + interval '1 hour')")
	waitFor(t, "first denial", func() bool { return a.replica.Denied("before-kill") })

	var killed bool
	if err := conn.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int(a.listenerPID.Load())).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(listener) = %v, %v", killed, err)
	}
	<-reconnecting
	if got := a.Status().State; got != cache.StateDisconnected {
		t.Errorf("state while reconnecting = %q, want %q", got, cache.StateDisconnected)
	}
	if !a.replica.Denied("before-kill") {
		t.Error("a lost connection dropped a denial from the replica")
	}
	for i := range 20 {
		mustExec(t, conn, "SELECT revokd.revoke_token($1, now() + interval '1 hour')", fmt.Sprintf("while-down-%d", i))
	}
	mustExec(t, conn, "SELECT revokd.revoke_all('sub', 'while-down')")
	close(release)
	a.waitSynced(t)
	waitConverged(t, conn, a)
	if got := a.Status().Reconnects; got != 1 {
		t.Errorf("Reconnects = %d, want 1", got)
	}
	if got := a.syncs.Load(); got != 2 {
		t.Errorf("snapshots loaded = %d, want 2", got)
	}
}

func TestOldVersionIgnored(t *testing.T) {
	url := migratedDB(t)
	a := startSynced(t, url)
	conn := connect(t, url)
	ctx := context.Background()
	held, err := a.RevokeAll(ctx, "sub", "victim", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken(ctx, "jti", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	cutoffs, denials := a.replica.Snapshot()
	// Forged notifications with older versions would unrevoke if applied:
	// a cutoff lowered to 1970, a denial already expired.
	for _, payload := range []string{
		fmt.Sprintf(`{"kind":"cutoff","claim":"sub","key":"victim","time":0,"version":%d}`, cutoffs[0].Version),
		fmt.Sprintf(`{"kind":"cutoff","claim":"sub","key":"victim","time":0,"version":%d}`, cutoffs[0].Version-1),
		fmt.Sprintf(`{"kind":"denial","key":"jti","time":1,"version":%d}`, denials[0].Version),
	} {
		mustExec(t, conn, "SELECT pg_notify('revokd', $1)", payload)
	}
	mustExec(t, conn, "SELECT revokd.revoke_token('marker', now() + interval '1 hour')")
	waitFor(t, "marker denial", func() bool { return a.replica.Denied("marker") })
	if got, _ := a.replica.Cutoff("sub", "victim"); !got.Equal(held) {
		t.Errorf("cutoff after old notifications = %v, want %v", got, held)
	}
	if !a.replica.Denied("jti") {
		t.Error("denial lifted by a repeated version")
	}
	if got := a.syncs.Load(); got != 1 {
		t.Errorf("snapshots loaded = %d, want 1: valid old notifications need no resync", got)
	}
}

func TestParseChange(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    change
		wantErr bool
	}{
		{"cutoff", `{"kind":"cutoff","claim":"sub","key":"1","time":5,"version":2}`, change{"cutoff", "sub", "1", 2}, false},
		{"denial", `{"kind":"denial","key":"j","time":-5,"version":3}`, change{"denial", "", "j", 3}, false},
		{"denial with a claim", `{"kind":"denial","claim":"sub","key":"j","version":3}`, change{"denial", "", "j", 3}, false},
		{"time is never read", `{"kind":"denial","key":"j","time":"soon","version":3}`, change{"denial", "", "j", 3}, false},
		{"not json", `nope`, change{}, true},
		{"unknown kind", `{"kind":"other","key":"j","time":1,"version":1}`, change{}, true},
		{"no key", `{"kind":"denial","time":1,"version":1}`, change{}, true},
		{"cutoff without claim", `{"kind":"cutoff","key":"1","time":1,"version":1}`, change{}, true},
		{"no version", `{"kind":"denial","key":"j","time":1}`, change{}, true},
		{"claim over 64 bytes", `{"kind":"cutoff","claim":"` + strings.Repeat("c", 65) + `","key":"1","version":1}`, change{}, true},
		{"value over 512 bytes", `{"kind":"cutoff","claim":"sub","key":"` + strings.Repeat("v", 513) + `","version":1}`, change{}, true},
		{"token id over 512 bytes", `{"kind":"denial","key":"` + strings.Repeat("j", 513) + `","version":1}`, change{}, true},
		{"value of 512 bytes", `{"kind":"cutoff","claim":"sub","key":"` + strings.Repeat("v", 512) + `","version":1}`,
			change{"cutoff", "sub", strings.Repeat("v", 512), 1}, false},
		{"NUL in a token id", `{"kind":"denial","key":"a\u0000b","version":1}`, change{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseChange(tc.payload)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseChange(%s) = %+v, %v; want %+v, error %v", tc.payload, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(10*time.Millisecond, 80*time.Millisecond)
	for i, ceiling := range []time.Duration{10, 20, 40, 80, 80, 80} {
		ceiling *= time.Millisecond
		if got := b.next(); got < ceiling/2 || got > ceiling {
			t.Errorf("delay %d = %v, want in [%v, %v]", i, got, ceiling/2, ceiling)
		}
	}
	b.reset()
	if got := b.next(); got > 10*time.Millisecond {
		t.Errorf("delay after reset = %v, want at most 10ms", got)
	}
}
