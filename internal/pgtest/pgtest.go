// Package pgtest gives tests a throwaway PostgreSQL cluster: one of their
// own, or one shared by a test binary, and a fresh database per test. It is
// the testing.TB layer over internal/pgcluster; only tests import it.
package pgtest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/revokd/revokd/internal/pgcluster"
)

// Cluster is a pgcluster.Cluster with the per-test helpers.
type Cluster struct {
	*pgcluster.Cluster
}

// Start starts a cluster of the test's own and removes it when the test
// ends. It fails the test, never skips it, when PostgreSQL is not installed.
func Start(t testing.TB) *Cluster {
	t.Helper()
	pc, err := pgcluster.StartCluster("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pc.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return &Cluster{pc}
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database for this test only, drops it when
// the test ends, and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := databaseName(t.Name(), dbSeq.Add(1))
	if err := c.CreateDatabase(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A test that leaves the server stopped has nothing left to drop.
		if !c.Running() {
			return
		}
		if err := c.DropDatabase(name); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return c.URL(name)
}

// databaseName makes a readable, unique, valid identifier from a test name.
func databaseName(testName string, seq int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := fmt.Sprintf("t%d_%s", seq, b.String())
	if len(name) > 63 { // NAMEDATALEN - 1
		name = name[:63]
	}
	return name
}

// shared is the one cluster a test binary's tests may share, started on first
// use and closed by Run.
var shared struct {
	mu sync.Mutex
	c  *Cluster
}

// Shared returns the test binary's shared cluster, starting it on first use.
// The package's TestMain must call Run so that it is removed at the end.
// Tests that stop or restart it must leave it running.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c == nil {
		pc, err := pgcluster.StartCluster("")
		if err != nil {
			t.Fatal(err)
		}
		shared.c = &Cluster{pc}
	}
	if !shared.c.Running() {
		if err := shared.c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	return shared.c
}

// Run runs the tests, then closes the shared cluster if one was started, and
// returns the exit code. Use it from TestMain: os.Exit(pgtest.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c != nil {
		if err := shared.c.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: close shared cluster:", err)
			if code == 0 {
				code = 1
			}
		}
		shared.c = nil
	}
	return code
}
