package main

import (
	"context"
	"io"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

const revokeAllAbout = `
Revokes every token of a subject (logout everywhere, password change,
compromised account), or of another cutoff claim's value such as a session
id, the same as POST /v1/revoke-all: every token whose session started
before the cutoff is rejected (the session start is the --session-start-claim
the daemon was given, orig_iat by default, else iat).

--before defaults to now. A time in the future is a ban: until then even new
logins are rejected, and their tokens stay rejected afterwards, since their
sessions started before the cutoff; sessions that start after it are
accepted. The cutoff only ever rises; 'revokd unban' lowers a future one to
now. Prints the cutoff in effect afterwards.
`

func runRevokeAll(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("revoke-all", "[flags] --sub VALUE | --claim NAME --value VALUE", revokeAllAbout)
	var cf clientFlags
	cf.register(f)
	var t target
	t.register(f)
	before := f.String("before", "", "the cutoff, an RFC 3339 `time` such as 2030-01-02T15:04:05Z (default now; future = ban)")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if f.NArg() > 0 {
		return f.usageError(stderr, "unexpected argument %q", f.Arg(0))
	}
	if msg := t.check(); msg != "" {
		return f.usageError(stderr, "%s", msg)
	}
	req := apitype.RevokeAllRequest{Sub: t.sub, Claim: t.claim, Value: t.value, Iss: t.iss}
	if *before != "" {
		b, err := time.Parse(time.RFC3339Nano, *before)
		if err != nil {
			return f.usageError(stderr, "--before: %q is not an RFC 3339 time such as 2030-01-02T15:04:05Z", *before)
		}
		req.Before = &b
	}
	c, callCtx, done := cf.open(ctx)
	defer done()
	resp, err := c.RevokeAll(callCtx, req)
	if err != nil {
		return callFailed(stderr, "revoke-all", err)
	}
	printJSON(stdout, resp)
	return exitOK
}
