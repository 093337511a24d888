package postgres

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/pgtest"
)

// TestServerFaults stops, restarts and crashes a cluster of its own, so the
// other tests' shared cluster is never disturbed.
func TestServerFaults(t *testing.T) {
	cluster := pgtest.Start(t)

	// revokeSQL commits a denial with a fresh connection, as an app would
	// right after the server came back.
	revokeSQL := func(t *testing.T, url, id string) {
		t.Helper()
		conn := connect(t, url)
		mustExec(t, conn, "SELECT revokd.revoke_token($1, now() + interval '1 hour')", id)
		conn.Close(context.Background())
	}
	migrated := func(t *testing.T) string {
		url := cluster.NewDatabase(t)
		if _, err := Migrate(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		return url
	}

	t.Run("restart", func(t *testing.T) {
		url := migrated(t)
		a, b := startSynced(t, url), startSynced(t, url)
		revokeSQL(t, url, "before")
		if err := cluster.Restart(); err != nil {
			t.Fatal(err)
		}
		revokeSQL(t, url, "after")
		for _, d := range []*daemon{a, b} {
			waitFor(t, "both denials", func() bool { return d.replica.Denied("before") && d.replica.Denied("after") })
			waitFor(t, "reconnect counted", func() bool { return d.Status().Reconnects >= 1 })
			d.waitSynced(t)
		}
		waitConverged(t, connect(t, url), a, b)
	})

	t.Run("crash", func(t *testing.T) {
		url := migrated(t)
		a := startSynced(t, url)
		if _, err := a.RevokeToken(context.Background(), "acked", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Start(); err != nil {
			t.Fatal(err)
		}
		revokeSQL(t, url, "after-crash")
		waitFor(t, "denial after crash recovery", func() bool { return a.replica.Denied("after-crash") })
		// An acknowledged write survived the crash.
		var n int
		if err := connect(t, url).QueryRow(context.Background(), "SELECT count(*) FROM revokd.denials WHERE token_id = 'acked'").Scan(&n); err != nil || n != 1 {
			t.Errorf("acknowledged denial rows after crash = %d, %v; want 1", n, err)
		}
	})

	t.Run("down then up", func(t *testing.T) {
		url := migrated(t)
		a := startSynced(t, url)
		if _, err := a.RevokeAll(context.Background(), "sub", "kept", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Stop(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "state disconnected", func() bool { return a.Status().State == cache.StateDisconnected })
		if _, ok := a.replica.Cutoff("sub", "kept"); !ok {
			t.Error("cutoff dropped while the server is down")
		}
		ctx := context.Background()
		writes := []struct {
			name string
			do   func() error
		}{
			{"revoke token", func() error { _, err := a.RevokeToken(ctx, "x", time.Now().Add(time.Hour)); return err }},
			{"revoke all", func() error { _, err := a.RevokeAll(ctx, "sub", "x", time.Now()); return err }},
			{"unban", func() error { _, err := a.Unban(ctx, "sub", "x"); return err }},
		}
		for _, w := range writes {
			if err := w.do(); !errors.Is(err, cache.ErrUnavailable) {
				t.Errorf("%s while down: error %v, want cache.ErrUnavailable", w.name, err)
			}
		}
		if a.replica.Denied("x") {
			t.Error("a write that failed reached the replica")
		}
		if err := cluster.Start(); err != nil {
			t.Fatal(err)
		}
		revokeSQL(t, url, "after-start")
		waitFor(t, "denial after start", func() bool { return a.replica.Denied("after-start") })
		a.waitSynced(t)
		if stored, err := a.RevokeToken(ctx, "x", time.Now().Add(time.Hour)); err != nil || !stored {
			t.Errorf("RevokeToken after the server is back = %v, %v; want true", stored, err)
		}
	})

	t.Run("started while down", func(t *testing.T) {
		url := migrated(t)
		revokeSQL(t, url, "old")
		if err := cluster.Stop(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cluster.Start() }) // for the database's cleanup if this fails
		a := start(t, testConfig(t, url))
		waitFor(t, "two failed connection attempts", func() bool { return a.attempts.Load() >= 2 })
		if a.replica.Ready() {
			t.Fatal("replica ready with the server down")
		}
		if got := a.Status(); got.State != cache.StateConnecting || !got.LastContact.IsZero() {
			t.Errorf("status while never connected = %+v, want connecting with no contact", got)
		}
		if err := cluster.Start(); err != nil {
			t.Fatal(err)
		}
		a.waitSynced(t)
		if !a.replica.Denied("old") {
			t.Error("snapshot after coming up lacks the denial")
		}
	})

	t.Run("started while down, migrating an empty database", func(t *testing.T) {
		url := cluster.NewDatabase(t) // no schema: only Migrate makes it usable
		if err := cluster.Stop(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cluster.Start() })
		cfg := testConfig(t, url)
		cfg.Migrate = true
		a := start(t, cfg)
		waitFor(t, "two failed connection attempts", func() bool { return a.attempts.Load() >= 2 })
		if err := cluster.Start(); err != nil {
			t.Fatal(err)
		}
		a.waitSynced(t)
		stored, err := a.RevokeToken(context.Background(), "after-migrate", time.Now().Add(time.Hour))
		if err != nil || !stored {
			t.Fatalf("RevokeToken on the migrated database = %v, %v; want true", stored, err)
		}
		if !a.replica.Denied("after-migrate") {
			t.Error("the write is not in the replica")
		}
	})

	t.Run("last contact stops while down", func(t *testing.T) {
		url := migrated(t)
		a := startSynced(t, url)
		// The clock is manual: contact is stamped with whatever it says, so
		// moving it and seeing the stamp follow shows contact happening.
		a.clock.Add(time.Minute)
		waitFor(t, "contact at the new time", func() bool { return !a.Status().LastContact.Before(a.clock.Now()) })

		if err := cluster.Stop(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "state disconnected", func() bool { return a.Status().State == cache.StateDisconnected })
		frozen := a.Status().LastContact
		a.clock.Add(time.Minute)
		attempts := a.attempts.Load()
		waitFor(t, "three more reconnect attempts", func() bool { return a.attempts.Load() >= attempts+3 })
		if got := a.Status().LastContact; !got.Equal(frozen) {
			t.Errorf("LastContact moved to %v while down, want it frozen at %v", got, frozen)
		}
		if age := a.clock.Now().Sub(a.Status().LastContact); age < time.Minute {
			t.Errorf("contact age while down = %v, want at least the minute the clock moved", age)
		}

		if err := cluster.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "contact resumed", func() bool { return !a.Status().LastContact.Before(a.clock.Now()) })
		a.waitSynced(t)
	})
}

// TestHeartbeatFindsSilentConnection freezes the feed's backend with
// SIGSTOP: its socket stays open but nothing answers, which is what a dead
// network path looks like. The heartbeat must give up on it and reconnect.
func TestHeartbeatFindsSilentConnection(t *testing.T) {
	url := migratedDB(t)
	a := startSynced(t, url)
	pid := int(a.listenerPID.Load())
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the listener backend %d: %v", pid, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	waitFor(t, "the feed to give up on the frozen connection", func() bool { return a.Status().Reconnects == 1 })
	a.waitSynced(t)
	if got := int(a.listenerPID.Load()); got == pid {
		t.Errorf("listener backend pid still %d after reconnecting", got)
	}
	conn := connect(t, url)
	mustExec(t, conn, "SELECT revokd.revoke_token('after-freeze', now() + interval '1 hour')")
	waitFor(t, "denial on the new connection", func() bool { return a.replica.Denied("after-freeze") })

	// Thawed, the abandoned backend reads the feed's goodbye and leaves.
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the abandoned backend to exit", func() bool {
		var n int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n)
		return err == nil && n == 0
	})
}
