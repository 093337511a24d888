package daemon

import (
	"context"
	"time"
)

// staleCheckEvery is how often logStaleness looks; only the log waits for
// it, never an answer.
const staleCheckEvery = 250 * time.Millisecond

// logStaleness says when --stale-after starts failing answers closed and
// when it stops: every answer in between is "unavailable", and the log is
// where an operator looks for why. It looks on the daemon's clock, so a
// test steps it.
func (d *Daemon) logStaleness(ctx context.Context) error {
	clock, log := d.opts.Clock, d.opts.Logger
	t, tick := clock.NewTicker(staleCheckEvery)
	defer t.Stop()
	was := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		now := d.replica.OutOfTouch(clock.Now(), d.opts.StaleAfter)
		switch {
		case now && !was:
			log.Warn("no contact with the revocation store for longer than --stale-after: every validation answers unavailable until it is back",
				"stale_after", d.opts.StaleAfter)
		case !now && was:
			log.Info("in contact with the revocation store again: validations answer normally")
		}
		was = now
	}
}
