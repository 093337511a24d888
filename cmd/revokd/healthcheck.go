package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

const healthcheckAbout = `
Exits 0 when the daemon answers and is ready (it has loaded its first
snapshot of revocations), 1 otherwise. Meant for container health checks
and scripts; it prints one line saying which.
`

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("healthcheck", "[flags]", healthcheckAbout)
	var cf clientFlags
	cf.register(f)
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
	ready, err := c.Ready(callCtx)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "revokd healthcheck: %v\n", err)
		return exitFail
	case !ready:
		fmt.Fprintln(stdout, "not ready: the daemon has not loaded its revocations yet")
		return exitFail
	}
	fmt.Fprintln(stdout, "ready")
	return exitOK
}
