package main

import (
	"context"
	"io"
	"os"

	"github.com/revokd/revokd/client/apitype"
)

const validateAbout = `
Asks the daemon whether TOKEN is good right now and prints its JSON answer,
the same as POST /v1/validate. With "-" or no TOKEN, reads the token from
standard input.

Exit status: 0 when the token is active; 1 when it is not (the answer's
"reason" says why); 3 when the daemon cannot give a verdict ("reason":
"unavailable": before its first snapshot, or past --stale-after), so a
script can tell "refused" from "ask again later"; 2 on usage or connection
errors.
`

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("validate", "[flags] [TOKEN|-]", validateAbout)
	var cf clientFlags
	cf.register(f)
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	arg := "-"
	switch f.NArg() {
	case 0:
		if isTerminal(stdin) {
			return f.usageError(stderr, "give a token, or pipe one in")
		}
	case 1:
		arg = f.Arg(0)
	default:
		return f.usageError(stderr, "give one token")
	}
	token, err := readToken(arg)
	if err != nil {
		return f.usageError(stderr, "%v", err)
	}
	if token == "" {
		return f.usageError(stderr, "empty token")
	}
	c, callCtx, done := cf.open(ctx)
	defer done()
	resp, err := c.Validate(callCtx, token)
	if err != nil {
		callFailed(stderr, "validate", err)
		return exitUsage // validate's contract: 2 on any error
	}
	printJSON(stdout, resp)
	switch {
	case resp.Reason == apitype.ReasonUnavailable:
		return exitNoVerdict
	case !resp.Active:
		return exitFail
	}
	return exitOK
}

// exitNoVerdict is validate's exit status when the daemon answers
// "unavailable": the token was neither accepted nor refused.
const exitNoVerdict = 3

// isTerminal reports whether r is a terminal, where waiting for a token
// would look like a hang.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
