// Command revokd is the revokd daemon (revokd serve) and its command-line
// client: validate, revoke, revoke-all, unban, status, healthcheck, and
// migrate for the PostgreSQL schema. Run "revokd help" for the list.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
