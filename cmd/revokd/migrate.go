package main

import (
	"context"
	"fmt"
	"io"

	"github.com/revokd/revokd/cache/postgres"
)

const migrateAbout = `
Creates the PostgreSQL schema "revokd" (tables, the SQL functions
revokd.revoke_token, revokd.revoke_all and revokd.unban, and the
notification trigger), or brings it up to date. It is idempotent and safe
to run from many hosts at once (it takes an advisory lock). 'revokd serve'
refuses a schema older than it needs until this has run, unless it was
started with --migrate.
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("migrate", "--database-url URL", migrateAbout)
	url := f.String("database-url", "", "PostgreSQL connection `url`, such as postgres://revokd@db/app")
	f.fromEnv("database-url") // the same setting as serve's
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if f.NArg() > 0 {
		return f.usageError(stderr, "unexpected argument %q", f.Arg(0))
	}
	if *url == "" {
		return f.usageError(stderr, "--database-url (or REVOKD_DATABASE_URL) is required")
	}
	m, err := postgres.Migrate(ctx, *url)
	if err != nil {
		fmt.Fprintf(stderr, "revokd migrate: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "revokd migrate: %s\n", m)
	return exitOK
}
