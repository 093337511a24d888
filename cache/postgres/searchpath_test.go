package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/internal/pgtest"
)

// attackerSQL plants, in schema public, functions that revokd's SQL could
// resolve to under a search_path that has public in it: each records that
// it ran, in a table every role may write, and tries to undo revocations
// with the caller's rights. nextval(text) is the one PostgreSQL prefers over
// pg_catalog.nextval(regclass) for an untyped literal.
const attackerSQL = `
CREATE TABLE public.ran (fn text, by_role text DEFAULT current_user);
GRANT SELECT, INSERT ON public.ran TO PUBLIC;
CREATE FUNCTION public.nextval(text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ran (fn) VALUES ('nextval');
	BEGIN
		DELETE FROM revokd.cutoffs;
		DELETE FROM revokd.denials;
	EXCEPTION WHEN insufficient_privilege THEN NULL;
	END;
	RETURN pg_catalog.nextval($1::regclass);
END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ran (fn) VALUES ('now');
	RETURN '1970-01-01Z';
END $$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ran (fn) VALUES ('clock_timestamp');
	RETURN '1970-01-01Z';
END $$;
CREATE FUNCTION public.pg_notify(text, text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ran (fn) VALUES ('pg_notify');
END $$;
CREATE FUNCTION public.json_build_object(text, text, text, text, text, text, text, bigint, text, bigint) RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ran (fn) VALUES ('json_build_object cutoff');
	RETURN '{}';
END $$;
CREATE FUNCTION public.json_build_object(text, text, text, text, text, bigint, text, bigint) RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ran (fn) VALUES ('json_build_object denial');
	RETURN '{}';
END $$;
`

// appGrants are the grants the README documents for an app that revokes.
const appGrants = `
GRANT USAGE ON SCHEMA revokd TO %[1]s;
GRANT EXECUTE ON FUNCTION revokd.revoke_token(text, timestamptz), revokd.revoke_all(text, text, timestamptz), revokd.unban(text, text) TO %[1]s;
GRANT SELECT, INSERT, UPDATE ON revokd.cutoffs, revokd.denials TO %[1]s;
GRANT SELECT ON revokd.prune_policy TO %[1]s;
GRANT USAGE ON SEQUENCE revokd.version_seq TO %[1]s;
`

// TestSearchPathHijack: a role with CREATE on schema public plants
// look-alikes of the functions revokd's SQL calls, before the schema is
// even migrated. Migrating, revoking through the Source (the daemon's write
// path, as a superuser whose search_path has public in it) and through the
// SQL API as an app role with the documented grants run none of them, and
// every revocation, including a year-long ban made before, stays intact.
func TestSearchPathHijack(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	su := connect(t, url)
	ctx := context.Background()
	attacker, app := newRole(t, su, "attacker"), newRole(t, su, "app")
	mustExec(t, su, "GRANT CREATE ON SCHEMA public TO "+pgx.Identifier{attacker}.Sanitize())
	mustExec(t, connect(t, asRole(t, url, attacker)), attackerSQL)

	if _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, sprintfIdent(appGrants, app))
	// Everyone below runs with public on the search_path, as by default.
	for _, c := range []*pgx.Conn{su} {
		var path string
		if err := c.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil || path != `"$user", public` {
			t.Fatalf("search_path = %q, %v; want the default", path, err)
		}
	}

	var ban time.Time
	if err := su.QueryRow(ctx, "SELECT revokd.revoke_all('sub', 'banned', now() + interval '1 year')").Scan(&ban); err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, "TRUNCATE public.ran") // the ban was made before the test's point; only what follows counts
	a := startSynced(t, url)

	future := time.Now().Add(time.Hour)
	if stored, err := a.RevokeToken(ctx, "jti-daemon", future); err != nil || !stored {
		t.Fatalf("RevokeToken = %v, %v; want true", stored, err)
	}
	if _, err := a.RevokeAll(ctx, "sub", "daemon", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Unban(ctx, "sub", "nobody"); err != nil {
		t.Fatal(err)
	}
	appConn := connect(t, asRole(t, url, app))
	var stored bool
	if err := appConn.QueryRow(ctx, "SELECT revokd.revoke_token('jti-app', now() + interval '1 hour')").Scan(&stored); err != nil || !stored {
		t.Fatalf("revoke_token as the app = %v, %v; want true", stored, err)
	}
	mustExec(t, appConn, "SELECT revokd.revoke_all('sub', 'app')")
	mustExec(t, appConn, "SELECT revokd.revoke_all('sid', 'ban-app', now() + interval '1 day')")
	mustExec(t, appConn, "SELECT revokd.unban('sid', 'ban-app')")
	mustExec(t, appConn, "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('jti-direct', now() + interval '1 hour')")

	rows, _ := su.Query(ctx, "SELECT fn || ' as ' || by_role FROM public.ran")
	ran, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) > 0 {
		t.Errorf("the attacker's functions ran: %v", ran)
	}
	cs, ds := dbState(t, su)
	want := map[string]bool{"banned": false, "daemon": false, "app": false, "ban-app": false, "jti-daemon": false, "jti-app": false, "jti-direct": false}
	for _, c := range cs {
		want[c.Value] = true
		if c.Value == "banned" && !c.Before.Equal(ban) {
			t.Errorf("the year-long ban is now %v, want %v", c.Before, ban)
		}
		if c.Before.Year() == 1970 {
			t.Errorf("cutoff %s/%s took the attacker's clock: %v", c.Claim, c.Value, c.Before)
		}
	}
	for _, d := range ds {
		want[d.ID] = true
	}
	for k, found := range want {
		if !found {
			t.Errorf("revocation %q is gone", k)
		}
	}
	waitConverged(t, su, a)
	if until, _ := a.replica.Cutoff("sub", "banned"); !until.Equal(ban) {
		t.Errorf("replica ban = %v, want %v", until, ban)
	}
}

func sprintfIdent(format, role string) string {
	return fmt.Sprintf(format, pgx.Identifier{role}.Sanitize())
}

// TestEveryFunctionPinsSearchPath: every function in schema revokd, trigger
// functions included, runs with search_path = pg_catalog, pg_temp.
func TestEveryFunctionPinsSearchPath(t *testing.T) {
	conn := connect(t, migratedDB(t))
	rows, _ := conn.Query(context.Background(), `SELECT p.proname || coalesce(' ' || p.proconfig::text, '')
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'revokd'
		AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)`)
	unpinned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(unpinned) > 0 {
		t.Errorf("functions without a pinned search_path: %v", unpinned)
	}
}
