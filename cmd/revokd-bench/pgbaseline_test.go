package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPGBaselineAgainstRealSchema runs the baseline's lookup and revoke
// against a throwaway PostgreSQL with revokd's own migrations, set up as
// compare sets it up, so a schema change that breaks the query fails here.
func TestPGBaselineAgainstRealSchema(t *testing.T) {
	ctx := context.Background()
	url, pids, cleanup, err := startPostgres(ctx, quiet)
	if err != nil {
		t.Fatal(err) // without PostgreSQL binaries this says what to install
	}
	defer cleanup()
	if got := pids(); len(got) == 0 {
		t.Error("no PostgreSQL server process found for the CPU figures")
	}
	pool, err := openPool(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	s := pgStore{pool}
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	tok := func(n int) checked {
		return checked{sub: "u" + string(rune('a'+n)), sid: "s" + string(rune('a'+n)), jti: "j" + string(rune('a'+n)),
			start: start, expires: time.Now().Add(time.Hour)}
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if err := s.revoke(tok(1)); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	exec(`SELECT revokd.revoke_all('sub', $1, now())`, tok(2).sub)
	exec(`SELECT revokd.revoke_all('sid', $1, now())`, tok(3).sid)
	exec(`SELECT revokd.revoke_all('sub', $1, now() - interval '1 hour')`, tok(4).sub) // before the session: no effect

	tests := []struct {
		name string
		c    checked
		want string
	}{
		{"untouched", tok(0), ""},
		{"denied", tok(1), "revoked"},
		{"subject cutoff", tok(2), "subject_revoked"},
		{"session cutoff", tok(3), "session_revoked"},
		{"older cutoff", tok(4), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.revoked(tc.c)
			if err != nil {
				t.Fatalf("revoked: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	var rows int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM revokd.cutoffs) + (SELECT count(*) FROM revokd.denials)`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := 2*seedRows + 4; rows != want {
		t.Errorf("rows = %d, want %d (the seed plus this test's)", rows, want)
	}
}
