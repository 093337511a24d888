package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 has sub-second digits on purpose: the store must keep microseconds.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 123456000, time.UTC)

// fixture is one store file with its clock and replica.
type fixture struct {
	path    string
	clock   *clocktest.Clock
	replica *cache.Replica
	src     *Source
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "revokd.db"), clock: clocktest.New(t0)}
	f.replica = cache.NewReplica(f.clock, 0, 0)
	f.src = f.open(t, Config{})
	return f
}

// open opens f.path with cfg (Path, Replica and Clock filled in from f) and
// closes it at cleanup unless the test closed it already.
func (f *fixture) open(t *testing.T, cfg Config) *Source {
	t.Helper()
	cfg.Path, cfg.Clock = f.path, f.clock
	if cfg.Replica == nil {
		cfg.Replica = f.replica
	}
	s, err := OpenConfig(cfg)
	if err != nil {
		t.Fatalf("OpenConfig(%s): %v", f.path, err)
	}
	t.Cleanup(func() {
		if !s.closed.Load() {
			_ = s.Close()
		}
	})
	return s
}

// reopen closes the fixture's source and opens the file again with a fresh,
// loaded replica, as a restarted daemon would.
func (f *fixture) reopen(t *testing.T, cfg Config) {
	t.Helper()
	if err := f.src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.replica = cache.NewReplica(f.clock, 0, 0)
	f.src = f.open(t, cfg)
	load(t, f.src)
}

// load runs s until it has loaded the store, then stops it and waits for Run
// to return.
func load(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "source synced", func() bool { return s.Status().State == cache.StateSynced })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !s.replica.Ready() {
		t.Fatalf("replica not ready after Run loaded the store")
	}
}

// waitFor polls cond until it holds; only go test's -timeout bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, cond)
}

// rows reads the store directly: every cutoff key and denial id with its
// record.
func rows(t *testing.T, s *Source) (cutoffs, denials map[string]record) {
	t.Helper()
	cutoffs, denials = map[string]record{}, map[string]record{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		for name, m := range map[string]map[string]record{string(bucketCutoffs): cutoffs, string(bucketDenials): denials} {
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				r, err := decodeRecord(v)
				m[string(k)] = r
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read rows: %v", err)
	}
	return cutoffs, denials
}

func mustRevokeAll(t *testing.T, s *Source, claim, value string, before time.Time) time.Time {
	t.Helper()
	got, err := s.RevokeAll(context.Background(), claim, value, before)
	if err != nil {
		t.Fatalf("RevokeAll(%q, %q, %v): %v", claim, value, before, err)
	}
	return got
}

func mustRevokeToken(t *testing.T, s *Source, id string, exp time.Time) bool {
	t.Helper()
	got, err := s.RevokeToken(context.Background(), id, exp)
	if err != nil {
		t.Fatalf("RevokeToken(%q, %v): %v", id, exp, err)
	}
	return got
}

func mustUnban(t *testing.T, s *Source, claim, value string) time.Time {
	t.Helper()
	got, err := s.Unban(context.Background(), claim, value)
	if err != nil {
		t.Fatalf("Unban(%q, %q): %v", claim, value, err)
	}
	return got
}

// newLeewayFixture is newFixture for a daemon with the given leeway: the
// replica and the store both count a denial until exp plus it.
func newLeewayFixture(t *testing.T, leeway time.Duration) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "revokd.db"), clock: clocktest.New(t0)}
	f.replica = cache.NewReplica(f.clock, 0, leeway)
	f.src = f.open(t, Config{Leeway: leeway})
	return f
}
