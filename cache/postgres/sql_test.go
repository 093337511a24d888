package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/testwait"
)

func TestRevokeTokenFunction(t *testing.T) {
	conn := connect(t, migratedDB(t))
	ctx := context.Background()
	// Run in order against one database: each case sees the ones before it.
	tests := []struct {
		name    string
		id      string
		expires string // SQL expression
		want    bool
		wantExp string // SQL expression for the stored expires_at afterwards; "" = no row
	}{
		{"new", "a", "'2100-01-01Z'", true, "'2100-01-01Z'"},
		{"again", "a", "'2100-01-01Z'", false, "'2100-01-01Z'"},
		{"shorter never shortens", "a", "'2050-01-01Z'", false, "'2100-01-01Z'"},
		{"later extends but was already denied", "a", "'2200-01-01Z'", false, "'2200-01-01Z'"},
		{"already expired", "b", "now() - interval '1 second'", false, ""},
		{"expires now", "c", "now()", false, ""},
		{"null", "d", "NULL", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			if err := conn.QueryRow(ctx, "SELECT revokd.revoke_token($1, "+tc.expires+")", tc.id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("revoke_token(%q, %s) = %v, want %v", tc.id, tc.expires, got, tc.want)
			}
			var same *bool
			if err := conn.QueryRow(ctx, "SELECT (SELECT expires_at = "+nonEmpty(tc.wantExp)+" FROM revokd.denials WHERE token_id = $1)", tc.id).Scan(&same); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantExp == "" && same != nil:
				t.Errorf("a row was stored for %q, want none", tc.id)
			case tc.wantExp != "" && (same == nil || !*same):
				t.Errorf("stored expires_at for %q is not %s", tc.id, tc.wantExp)
			}
		})
	}

	t.Run("expired row is replaced", func(t *testing.T) {
		mustExec(t, conn, "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('old', now() - interval '1 hour')")
		var got bool
		if err := conn.QueryRow(ctx, "SELECT revokd.revoke_token('old', now() + interval '1 hour')").Scan(&got); err != nil || !got {
			t.Errorf("revoke_token over an expired denial = %v, %v; want true", got, err)
		}
	})
}

func nonEmpty(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

func TestRevokeAllAndUnbanFunctions(t *testing.T) {
	conn := connect(t, migratedDB(t))
	ctx := context.Background()
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		sql  string
		want time.Time // the function's result; zero for unban
		held time.Time // the stored cutoff afterwards
	}{
		{"first", "SELECT revokd.revoke_all('sub', '42', '2020-01-01T00:00:00.000001Z')", ts("2020-01-01T00:00:00.000001Z"), ts("2020-01-01T00:00:00.000001Z")},
		{"earlier never lowers", "SELECT revokd.revoke_all('sub', '42', '2019-01-01Z')", ts("2020-01-01T00:00:00.000001Z"), ts("2020-01-01T00:00:00.000001Z")},
		{"later raises", "SELECT revokd.revoke_all('sub', '42', '2021-01-01Z')", ts("2021-01-01T00:00:00Z"), ts("2021-01-01T00:00:00Z")},
		{"ban", "SELECT revokd.revoke_all('sub', '42', '2999-01-01Z')", ts("2999-01-01T00:00:00Z"), ts("2999-01-01T00:00:00Z")},
		{"unban other value", "SELECT revokd.unban('sub', '43')", time.Time{}, ts("2999-01-01T00:00:00Z")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want.IsZero() {
				mustExec(t, conn, tc.sql)
			} else {
				var got time.Time
				if err := conn.QueryRow(ctx, tc.sql).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if !got.Equal(tc.want) {
					t.Errorf("%s = %v, want %v", tc.sql, got, tc.want)
				}
			}
			var held time.Time
			if err := conn.QueryRow(ctx, "SELECT before FROM revokd.cutoffs WHERE claim = 'sub' AND value = '42'").Scan(&held); err != nil {
				t.Fatal(err)
			}
			if !held.Equal(tc.held) {
				t.Errorf("after %s, cutoff = %v, want %v", tc.sql, held, tc.held)
			}
		})
	}

	t.Run("a second unban leaves a past cutoff", func(t *testing.T) {
		mustExec(t, conn, "SELECT revokd.unban('sub', '42')")
		var held time.Time
		if err := conn.QueryRow(ctx, "SELECT before FROM revokd.cutoffs WHERE claim = 'sub' AND value = '42'").Scan(&held); err != nil {
			t.Fatal(err)
		}
		mustExec(t, conn, "SELECT revokd.unban('sub', '42')")
		var again time.Time
		if err := conn.QueryRow(ctx, "SELECT before FROM revokd.cutoffs WHERE claim = 'sub' AND value = '42'").Scan(&again); err != nil {
			t.Fatal(err)
		}
		if !again.Equal(held) {
			t.Errorf("a second unban moved a past cutoff from %v to %v", held, again)
		}
	})
}

// TestCutoffTakesTheTimeOfTheCall: inside one transaction, a cutoff taken
// "now" by revoke_all and unban is the time the function ran, later than
// the transaction's start (now()), so a token issued while a long
// transaction ran is revoked too.
func TestCutoffTakesTheTimeOfTheCall(t *testing.T) {
	conn := connect(t, migratedDB(t))
	ctx := context.Background()
	mustExec(t, conn, "SELECT revokd.revoke_all('sub', 'banned', '2999-01-01Z')")
	tests := []struct {
		name string
		sql  string // run inside the transaction; yields the cutoff taken
	}{
		{"revoke_all without before", "SELECT revokd.revoke_all('sub', 'a')"},
		{"revoke_all with a NULL before", "SELECT revokd.revoke_all('sub', 'b', NULL)"},
		{"unban", "SELECT revokd.unban('sub', 'banned'); SELECT before FROM revokd.cutoffs WHERE value = 'banned'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			var txStart time.Time
			if err := tx.QueryRow(ctx, "SELECT now()").Scan(&txStart); err != nil {
				t.Fatal(err)
			}
			stmts := strings.Split(tc.sql, "; ")
			for _, stmt := range stmts[:len(stmts)-1] {
				mustExec(t, tx.Conn(), stmt)
			}
			var got time.Time
			if err := tx.QueryRow(ctx, stmts[len(stmts)-1]).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !got.After(txStart) {
				t.Errorf("cutoff %v, want strictly later than the transaction's now() %v", got, txStart)
			}
		})
	}
}

// TestRevokeAllBeforeOutOfRange: a before earlier than 1970 (or past 9999)
// is refused as invalid, through the SQL API and through the Source.
func TestRevokeAllBeforeOutOfRange(t *testing.T) {
	url := migratedDB(t)
	conn := connect(t, url)
	a := startSynced(t, url)
	ctx := context.Background()
	for _, before := range []string{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000001Z", "1969-12-31T23:59:59.999999Z", "9999-01-01T00:00:00.000001Z"} {
		t.Run(before, func(t *testing.T) {
			_, err := conn.Exec(ctx, "SELECT revokd.revoke_all('sub', 'x', $1::timestamptz)", before)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
				t.Errorf("revoke_all(…, %s): error %v, want check_violation 23514", before, err)
			}
			tm, err := time.Parse(time.RFC3339Nano, before)
			if err != nil {
				t.Fatal(err)
			}
			if tm.IsZero() {
				// The zero time.Time is the Source's "now" (cache.Source): an
				// explicit 0001-01-01T00:00:00Z must be refused before it
				// reaches a Source, by whoever parses the request.
				return
			}
			if _, err := a.RevokeAll(ctx, "sub", "x", tm); !errors.Is(err, ErrInvalid) || errors.Is(err, cache.ErrUnavailable) {
				t.Errorf("RevokeAll(before %s): error %v, want ErrInvalid", before, err)
			}
		})
	}
	if _, ok := a.replica.Cutoff("sub", "x"); ok {
		t.Error("a refused cutoff reached the replica")
	}
}

func TestVersionsAndConstraints(t *testing.T) {
	conn := connect(t, migratedDB(t))
	ctx := context.Background()
	version := func() int64 {
		var v int64
		if err := conn.QueryRow(ctx, "SELECT version FROM revokd.cutoffs WHERE claim = 'sub' AND value = 'v'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	mustExec(t, conn, "SELECT revokd.revoke_all('sub', 'v', '2020-01-01Z')")
	v1 := version()
	mustExec(t, conn, "UPDATE revokd.cutoffs SET before = '2021-01-01Z', version = 9000000000 WHERE value = 'v'")
	v2 := version()
	if v2 <= v1 || v2 >= 9000000000 {
		t.Errorf("direct UPDATE forging version 9e9: version %d -> %d, want a fresh sequence value above %d", v1, v2, v1)
	}
	mustExec(t, conn, "SELECT revokd.revoke_token('t', now() + interval '1 hour')")
	var vd int64
	if err := conn.QueryRow(ctx, "SELECT version FROM revokd.denials WHERE token_id = 't'").Scan(&vd); err != nil {
		t.Fatal(err)
	}
	if vd <= v2 {
		t.Errorf("denial version %d not above cutoff version %d: tables must share one sequence", vd, v2)
	}

	long := strings.Repeat("x", 513)
	bad := []struct{ name, sql string }{
		{"token id over 512 bytes", "SELECT revokd.revoke_token('" + long + "', now() + interval '1 hour')"},
		{"empty token id", "SELECT revokd.revoke_token('', now() + interval '1 hour')"},
		{"value over 512 bytes", "SELECT revokd.revoke_all('sub', '" + long + "')"},
		{"claim over 64 bytes", "SELECT revokd.revoke_all('" + strings.Repeat("c", 65) + "', 'v')"},
		{"infinite cutoff", "SELECT revokd.revoke_all('sub', 'inf', 'infinity')"},
		{"infinite denial", "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('inf', 'infinity')"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := conn.Exec(ctx, tc.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
				t.Errorf("%s: error %v, want check_violation 23514", tc.name, err)
			}
		})
	}
}

func TestNotificationPayload(t *testing.T) {
	url := migratedDB(t)
	listener, writer := connect(t, url), connect(t, url)
	mustExec(t, listener, "LISTEN revokd")
	ctx := context.Background()
	long := strings.Repeat("\x01", 512) // escapes to \u0001: the worst case
	// time is for daemons older than migration 0003, which read it; revokd
	// now reads the row instead.
	tests := []struct {
		name     string
		sql      string
		want     change
		wantTime int64
	}{
		{"cutoff", "SELECT revokd.revoke_all('sub', '42', '2020-01-02T03:04:05.678901Z')",
			change{Kind: "cutoff", Claim: "sub", Key: "42"}, 1577934245678901},
		{"denial", "SELECT revokd.revoke_token('jti-1', '2100-01-01Z')",
			change{Kind: "denial", Key: "jti-1"}, 4102444800000000},
		{"direct insert", "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('direct', '2100-01-01Z')",
			change{Kind: "denial", Key: "direct"}, 4102444800000000},
		{"direct update", "UPDATE revokd.cutoffs SET before = '1999-12-31T23:59:59Z' WHERE value = '42'",
			change{Kind: "cutoff", Claim: "sub", Key: "42"}, 946684799000000},
		{"largest payload", "SELECT revokd.revoke_all('" + strings.Repeat("\x02", 64) + "', '" + long + "', '2020-01-01Z')",
			change{Kind: "cutoff", Claim: strings.Repeat("\x02", 64), Key: long}, 1577836800000000},
	}
	var lastVersion int64
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, writer, tc.sql)
			waitCtx, cancel := context.WithDeadline(ctx, testwait.Deadline(t))
			defer cancel()
			n, err := listener.WaitForNotification(waitCtx)
			if err != nil {
				t.Fatal(err)
			}
			if len(n.Payload) >= 4000 {
				t.Errorf("payload is %d bytes, want well under 8000", len(n.Payload))
			}
			var raw struct{ Time int64 }
			if err := json.Unmarshal([]byte(n.Payload), &raw); err != nil {
				t.Fatalf("payload %q: %v", n.Payload, err)
			}
			if raw.Time != tc.wantTime {
				t.Errorf("payload time = %d, want %d", raw.Time, tc.wantTime)
			}
			got, err := parseChange(n.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version <= lastVersion {
				t.Errorf("version %d not above the previous %d", got.Version, lastVersion)
			}
			lastVersion = got.Version
			got.Version = 0
			if got != tc.want {
				t.Errorf("payload = %+v, want %+v", got, tc.want)
			}
		})
	}
}
