package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

const healthcheckAbout = `
Exits 0 when the daemon answers and is ready, 1 otherwise; it prints one
line saying which. Ready is what GET /readyz says: the daemon has loaded
its first snapshot of revocations and, with --stale-after, has heard from
its store within that time, so validations get a verdict rather than
"unavailable". Meant for readiness probes and scripts.

With --live it asks only whether the daemon answers at all (liveness, as
GET /healthz): use that for probes that restart the daemon. A daemon that
lost its database must not be restarted: the restart cannot bring the
database back and drops the revocations it still enforces.
`

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("healthcheck", "[flags]", healthcheckAbout)
	var cf clientFlags
	cf.register(f)
	live := f.Bool("live", false, "only check that the daemon answers (liveness), not that it is ready")
	// A health check that hangs is worse than one that fails.
	f.Lookup("timeout").DefValue = "3s"
	cf.timeout = 3 * time.Second
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if f.NArg() > 0 {
		return f.usageError(stderr, "unexpected argument %q", f.Arg(0))
	}
	c, callCtx, done := cf.open(ctx)
	defer done()
	if *live {
		// Any answer will do: status is served whatever the store's state.
		if _, err := c.Status(callCtx); err != nil {
			return callFailed(stderr, "healthcheck", err)
		}
		fmt.Fprintln(stdout, "alive")
		return exitOK
	}
	ready, err := c.Ready(callCtx)
	if err != nil {
		// callFailed adds how to start the daemon when there is none.
		return callFailed(stderr, "healthcheck", err)
	}
	if !ready {
		// /readyz said 503; status says which of its two causes. If status
		// fails too, the verdict stands and the cause stays general.
		why := "the daemon cannot vouch for its revocations yet"
		if st, err := c.Status(callCtx); err == nil {
			switch {
			case !st.Ready:
				why = "the daemon has not loaded its revocations yet"
			case st.Stale:
				why = fmt.Sprintf("no contact with the revocation store for %.3fs, longer than --stale-after; validations answer unavailable", st.StaleSeconds)
			}
		}
		fmt.Fprintln(stdout, "not ready: "+why)
		return exitFail
	}
	fmt.Fprintln(stdout, "ready")
	return exitOK
}
