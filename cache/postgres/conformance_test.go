package postgres

import (
	"testing"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/sourcetest"
)

// TestSourceConformance runs the suite on a real cluster. The store reads
// the database's clock for now; testConfig's clock starts at the wall clock.
func TestSourceConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) (cache.Source, *cache.Replica, *clocktest.Clock) {
		d := startSynced(t, migratedDB(t))
		return d.Source, d.replica, d.clock
	})
}
