package bolt

import (
	"testing"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/sourcetest"
)

func TestSourceConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) (cache.Source, *cache.Replica, *clocktest.Clock) {
		f := newFixture(t)
		return f.src, f.replica, f.clock
	})
}
