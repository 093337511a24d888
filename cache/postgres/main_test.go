package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/pgtest"
	"github.com/revokd/revokd/internal/testwait"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// waitFor polls cond until it holds; only go test's -timeout bounds it.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, cond)
}

// migratedDB returns the URL of a fresh, migrated database on the shared cluster.
func migratedDB(t testing.TB) string {
	t.Helper()
	url := pgtest.Shared(t).NewDatabase(t)
	if _, err := Migrate(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// connect opens a plain connection, closed when the test ends.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// testLogger discards below warnings unless -v; the feed's reconnect
// warnings are expected in fault tests.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// daemon is one Source with its replica and clock, running until the test ends.
type daemon struct {
	*Source
	replica *cache.Replica
	clock   *clocktest.Clock
	cancel  context.CancelFunc
	done    chan error
}

// testConfig is fast to notice faults and to come back from them.
func testConfig(t testing.TB, url string) Config {
	// Whole microseconds, the precision of the replica and of LastContact.
	clock := clocktest.New(time.Now().Truncate(time.Microsecond))
	return Config{
		URL:           url,
		Replica:       cache.NewReplica(clock, 0, 0),
		Clock:         clock,
		Logger:        testLogger(t),
		Heartbeat:     200 * time.Millisecond,
		PruneInterval: -1,
		BackoffMin:    5 * time.Millisecond,
		BackoffMax:    50 * time.Millisecond,
	}
}

// start opens and runs a Source; the test's cleanup stops it and checks Run
// returned nil.
func start(t testing.TB, cfg Config) *daemon {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, s)
}

func run(t testing.TB, s *Source) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{Source: s, replica: s.replica, cancel: cancel, done: make(chan error, 1)}
	d.clock, _ = s.clock.(*clocktest.Clock)
	go func() { d.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		d.stop(t)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// stop cancels Run and waits for it; safe to call twice.
func (d *daemon) stop(t testing.TB) {
	t.Helper()
	d.cancel()
	select {
	case err, ok := <-d.done:
		if ok && err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if ok {
			close(d.done)
		}
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("Run did not return after cancel")
	}
}

func startSynced(t testing.TB, url string) *daemon {
	t.Helper()
	d := start(t, testConfig(t, url))
	d.waitSynced(t)
	return d
}

func (d *daemon) waitSynced(t testing.TB) {
	t.Helper()
	waitFor(t, "replica ready and feed synced", func() bool {
		return d.replica.Ready() && d.Status().State == cache.StateSynced
	})
}

// dbState reads every row, as a replica holding all of them would show it.
func dbState(t testing.TB, conn *pgx.Conn) ([]cache.Cutoff, []cache.Denial) {
	t.Helper()
	ctx := context.Background()
	rows, _ := conn.Query(ctx, "SELECT claim, value, before, version FROM revokd.cutoffs ORDER BY claim, value")
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c cache.Cutoff, err error) {
		err = r.Scan(&c.Claim, &c.Value, &c.Before, &c.Version)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ = conn.Query(ctx, "SELECT token_id, expires_at, version FROM revokd.denials ORDER BY token_id")
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (d cache.Denial, err error) {
		err = r.Scan(&d.ID, &d.ExpiresAt, &d.Version)
		return d, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs, ds
}

// sameState compares a replica with the database, times to the microsecond.
func sameState(r *cache.Replica, cs []cache.Cutoff, ds []cache.Denial) error {
	rc, rd := r.Snapshot()
	if len(rc) != len(cs) || len(rd) != len(ds) {
		return fmt.Errorf("replica holds %d cutoffs, %d denials; database %d, %d", len(rc), len(rd), len(cs), len(ds))
	}
	for i := range cs {
		if rc[i].Claim != cs[i].Claim || rc[i].Value != cs[i].Value || !rc[i].Before.Equal(cs[i].Before) || rc[i].Version != cs[i].Version {
			return fmt.Errorf("cutoff %d: replica %+v, database %+v", i, rc[i], cs[i])
		}
	}
	for i := range ds {
		if rd[i].ID != ds[i].ID || !rd[i].ExpiresAt.Equal(ds[i].ExpiresAt) || rd[i].Version != ds[i].Version {
			return fmt.Errorf("denial %d: replica %+v, database %+v", i, rd[i], ds[i])
		}
	}
	return nil
}

// waitConverged waits until every replica matches the database.
func waitConverged(t testing.TB, conn *pgx.Conn, ds ...*daemon) {
	t.Helper()
	var last error
	deadline := time.NewTimer(time.Until(testwait.Deadline(t)))
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		cs, dn := dbState(t, conn)
		last = nil
		for i, d := range ds {
			if err := sameState(d.replica, cs, dn); err != nil {
				last = fmt.Errorf("daemon %d: %w", i, err)
				break
			}
		}
		if last == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("replicas did not converge: %v", last)
		case <-tick.C:
		}
	}
}
