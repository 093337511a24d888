package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

const revokeAbout = `
Denies one token until it expires (logout on one device, a leaked token),
the same as POST /v1/revoke. Give the token itself ("-" reads it from
standard input), or its id with --jti and its expiry with --exp.

With --scope session, the token's whole session is revoked instead (a
cutoff on its sid: logout on that device, the tokens refreshed from it
included); with --scope subject, every session of its subject (logout
everywhere).

Anyone who can open the socket may revoke a token they hold. --jti needs
no token, so it could end anyone's session: it is a privileged write, like
revoke-all, and a daemon started with --write-uids or --write-gids refuses
it (403 forbidden) to callers not on those lists.

Prints {"stored":true} when a new denial was written. Like RFC 7009, an
invalid, expired or already revoked token is not an error: nothing is
stored, the answer is {"stored":false}, and the exit status is 0; a line on
standard error says why nothing was stored. A --jti whose --exp (plus the
daemon's --leeway) has passed stores nothing either: its token is already
rejected as expired.
`

func runRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("revoke", "[flags] TOKEN|-  or  revokd revoke --jti ID --exp TIME", revokeAbout)
	var cf clientFlags
	cf.register(f)
	jti := f.String("jti", "", "deny the token with this `id` (its jti claim) instead of giving the token")
	exp := f.String("exp", "", "with --jti: the token's expiry, as Unix `seconds` or RFC 3339")
	scope := f.String("scope", "", "with a token: revoke its whole `scope`, session (its sid) or subject")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	var req apitype.RevokeRequest
	switch {
	case *jti != "" && f.NArg() > 0:
		return f.usageError(stderr, "give either a token or --jti, not both")
	case *scope != "" && *scope != apitype.ScopeSession && *scope != apitype.ScopeSubject:
		return f.usageError(stderr, "--scope must be %s or %s", apitype.ScopeSession, apitype.ScopeSubject)
	case *scope != "" && *jti != "":
		return f.usageError(stderr, "--scope goes with a token, not --jti")
	case *jti != "":
		if *exp == "" {
			return f.usageError(stderr, "--jti needs --exp (the token's expiry)")
		}
		secs, err := parseUnixOrRFC3339(*exp)
		if err != nil {
			return f.usageError(stderr, "--exp: %v", err)
		}
		req = apitype.RevokeRequest{JTI: *jti, Exp: secs}
	case *exp != "":
		return f.usageError(stderr, "--exp goes with --jti")
	case f.NArg() != 1:
		return f.usageError(stderr, "give one token, or --jti and --exp")
	default:
		token, err := readToken(f.Arg(0))
		if err != nil {
			return f.usageError(stderr, "%v", err)
		}
		if token == "" {
			return f.usageError(stderr, "empty token")
		}
		req.Token, req.Scope = token, *scope
	}
	c, callCtx, done := cf.open(ctx)
	defer done()
	resp, err := c.Revoke(callCtx, req)
	if err != nil {
		return callFailed(stderr, "revoke", err)
	}
	printJSON(stdout, resp)
	if !resp.Stored {
		fmt.Fprintf(stderr, "revokd revoke: %s\n", whyNothingStored(req, time.Now()))
	}
	return exitOK
}

// whyNothingStored explains a {"stored":false} to the person who asked for
// a revocation. The daemon says only that nothing was stored; for a bare
// jti the CLI can tell an expiry already past from a jti already denied.
func whyNothingStored(req apitype.RevokeRequest, now time.Time) string {
	if req.Scope != "" {
		return "nothing stored: the token is invalid, expired, or already revoked, so it cannot end its " + req.Scope + " ('revokd validate TOKEN' says which)"
	}
	if req.Token != "" {
		return "nothing stored: the token is invalid, expired, or already revoked ('revokd validate TOKEN' says which)"
	}
	exp := time.Unix(req.Exp, 0).UTC()
	if !exp.After(now) {
		return fmt.Sprintf("nothing stored: exp %s has passed (plus the daemon's leeway), so the token is already rejected as expired", exp.Format(time.RFC3339))
	}
	return fmt.Sprintf("nothing stored: jti %q is already denied", req.JTI)
}

// parseUnixOrRFC3339 reads a time as Unix seconds or RFC 3339 and returns
// Unix seconds.
func parseUnixOrRFC3339(s string) (int64, error) {
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return secs, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither Unix seconds nor an RFC 3339 time", s)
	}
	return t.Unix(), nil
}
