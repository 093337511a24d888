package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/internal/pgtest"
)

func TestMigrateCommand(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	// Twice: migrating is idempotent, and says whether it did anything.
	for i, want := range []string{"migrated from version 0 to ", "nothing to do"} {
		code, stdout, stderr := runCLI(t, "migrate", "--database-url", url)
		if code != exitOK {
			t.Fatalf("migrate #%d: exit %d: %s", i+1, code, stderr)
		}
		if !strings.Contains(stdout, want) {
			t.Errorf("migrate #%d stdout = %q, want it to say %q", i+1, stdout, want)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, fn := range []string{"revokd.revoke_token", "revokd.revoke_all", "revokd.unban"} {
		var found bool
		if err := conn.QueryRow(context.Background(), "SELECT count(*) > 0 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname || '.' || p.proname = $1", fn).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Errorf("function %s missing after migrate", fn)
		}
	}
}

func TestMigrateUsage(t *testing.T) {
	t.Setenv("REVOKD_DATABASE_URL", "")
	code, _, stderr := runCLI(t, "migrate")
	if code != exitUsage || !strings.Contains(stderr, "--database-url (or REVOKD_DATABASE_URL) is required") {
		t.Errorf("migrate without a URL: exit %d %q; want 2 and what is missing", code, stderr)
	}
}
