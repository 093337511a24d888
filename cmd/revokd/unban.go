package main

import (
	"context"
	"io"

	"github.com/revokd/revokd/client/apitype"
)

const unbanAbout = `
Lifts a ban, the same as POST /v1/unban: a cutoff in the future is lowered
to now, so tokens issued from now on are accepted again, while every token
issued before stays revoked. Prints the cutoff in effect afterwards.
`

func runUnban(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("unban", "[flags] --sub VALUE | --claim NAME --value VALUE", unbanAbout)
	var cf clientFlags
	cf.register(f)
	var t target
	t.register(f)
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if f.NArg() > 0 {
		return f.usageError(stderr, "unexpected argument %q", f.Arg(0))
	}
	if msg := t.check(); msg != "" {
		return f.usageError(stderr, "%s", msg)
	}
	c, callCtx, done := cf.open(ctx)
	defer done()
	resp, err := c.Unban(callCtx, apitype.UnbanRequest{Sub: t.sub, Claim: t.claim, Value: t.value, Iss: t.iss})
	if err != nil {
		return callFailed(stderr, "unban", err)
	}
	printJSON(stdout, resp)
	return exitOK
}
