package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

const statusAbout = `
Prints the daemon's status as JSON, the same as GET /v1/status: whether it
is ready, its source (bolt or postgres) and that source's state, when it
last heard from it and how stale that makes it, the last version applied,
the number of cutoffs and denials held, and verified-token cache hits.
`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("status", "[flags]", statusAbout)
	var cf clientFlags
	cf.register(f)
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if f.NArg() > 0 {
		return f.usageError(stderr, "unexpected argument %q", f.Arg(0))
	}
	c, callCtx, done := cf.open(ctx)
	defer done()
	st, err := c.Status(callCtx)
	if err != nil {
		return callFailed(stderr, "status", err)
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
	return exitOK
}
