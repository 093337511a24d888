package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/revokd/revokd/client"
)

// clientFlags are the flags of every command that talks to the daemon.
type clientFlags struct {
	socket  string
	timeout time.Duration
}

func (c *clientFlags) register(f *cmdFlags) {
	f.StringVar(&c.socket, "socket", "", "the daemon's socket `path` (default $XDG_RUNTIME_DIR/revokd/revokd.sock, else /run/revokd/revokd.sock)")
	f.DurationVar(&c.timeout, "timeout", 10*time.Second, "give up on the daemon after this `duration`")
	// How to reach the daemon is a setting; what the call acts on is not.
	f.fromEnv("socket", "timeout")
}

// open returns a client and a context bounded by --timeout. The caller
// calls done when finished.
func (c *clientFlags) open(ctx context.Context) (cl *client.Client, callCtx context.Context, done func()) {
	cl = &client.Client{Socket: c.socket, MaxIdleConns: 1}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	return cl, callCtx, func() {
		cancel()
		cl.Close()
	}
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v) // the client's types always marshal
	fmt.Fprintf(w, "%s\n", b)
}

// callFailed reports a failed call to the daemon and returns the exit code:
// 2 when the daemon said the request was bad, 1 otherwise.
func callFailed(stderr io.Writer, name string, err error) int {
	// The client's errors already say "revokd: "; once is enough.
	fmt.Fprintf(stderr, "revokd %s: %s\n", name, strings.TrimPrefix(err.Error(), "revokd: "))
	var ce *client.Error
	switch {
	case client.IsTooManyConnections(err):
		// The daemon is up and said why; "is it running?" would mislead.
		fmt.Fprintln(stderr, "The daemon refused the connection at its connection cap; see --max-connections and --max-connections-per-uid on 'revokd serve'.")
	case errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable:
		// The daemon answered: what it lacks is its revocation store.
		fmt.Fprintln(stderr, "The daemon is running but cannot reach its revocation store; 'revokd status' shows the source's state.")
	case client.IsUnavailable(err):
		fmt.Fprintln(stderr, "Is the daemon running? Start it with 'revokd serve', or point --socket (REVOKD_SOCKET) at its socket.")
	}
	if client.IsBadRequest(err) {
		return exitUsage
	}
	return exitFail
}

// readToken returns the token argument, reading it from stdin when it is "-".
func readToken(arg string) (string, error) {
	if arg != "-" {
		return strings.TrimSpace(arg), nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read token from stdin: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
