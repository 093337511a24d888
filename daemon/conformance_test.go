package daemon

import (
	"testing"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/sourcetest"
)

// TestMemSourceConformance keeps the fake the service tests run on true to
// the stores it stands in for.
func TestMemSourceConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) (cache.Source, *cache.Replica, *clocktest.Clock) {
		clock := clocktest.New(t0)
		r := cache.NewReplica(clock, 0, testLeeway)
		src := newMemSource(r, clock)
		src.leeway = testLeeway
		return src, r, clock
	})
}
