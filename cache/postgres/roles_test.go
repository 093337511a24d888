package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/internal/pgtest"
)

// roleSeq keeps role names, which are global to the shared cluster, apart.
var roleSeq atomic.Int64

// newRole creates a login role with no grants beyond PostgreSQL's defaults
// to PUBLIC, and returns its name. The cluster is thrown away with the test
// binary, so roles are left behind.
func newRole(t testing.TB, su *pgx.Conn, kind string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", kind, roleSeq.Add(1))
	mustExec(t, su, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN")
	return name
}

// asRole returns dbURL with the user replaced by role (the test cluster
// trusts local connections).
func asRole(t testing.TB, dbURL, role string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// grant makes login role member a member of role (revokd_daemon or
// revokd_writer), as an operator would.
func grant(t testing.TB, su *pgx.Conn, role, member string) {
	t.Helper()
	mustExec(t, su, "GRANT "+role+" TO "+pgx.Identifier{member}.Sanitize())
}

// wantDenied fails the test unless sql, run as conn, is refused with
// insufficient_privilege (42501).
func wantDenied(t testing.TB, conn *pgx.Conn, who, sql string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), sql)
	if !denied(err) {
		t.Errorf("%s: %s: error %v, want insufficient_privilege (42501)", who, sql, err)
	}
}

// applied counts the notified rows a Source has read, and wakes a waiter
// after each, so a test waits for the change itself, never on a deadline.
type applied struct {
	mu   sync.Mutex
	keys map[string]bool
	wake chan struct{} // one pending wake-up is enough: the waiter rechecks
}

func watchApplied(s *Source) *applied {
	a := &applied{keys: map[string]bool{}, wake: make(chan struct{}, 1)}
	s.appliedHook = func(c change) {
		a.mu.Lock()
		a.keys[c.Key] = true
		a.mu.Unlock()
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return a
}

// wait returns once the feed has read a notified row for every key.
func (a *applied) wait(keys ...string) {
	for {
		a.mu.Lock()
		all := true
		for _, k := range keys {
			all = all && a.keys[k]
		}
		a.mu.Unlock()
		if all {
			return
		}
		<-a.wake
	}
}

// TestRolesLeastPrivilege runs the daemon as a login role holding only
// revokd_daemon and an app as one holding only revokd_writer: the daemon
// follows, revokes, declares its policy and prunes; the app revokes through
// the three functions and can do nothing else; a role with neither can
// change nothing. Migrating again takes back a right granted on top.
func TestRolesLeastPrivilege(t *testing.T) {
	url := migratedDB(t)
	su := connect(t, url)
	ctx := context.Background()
	svc, app, nobody := newRole(t, su, "svc"), newRole(t, su, "app"), newRole(t, su, "nobody")
	grant(t, su, DaemonRole, svc)
	grant(t, su, WriterRole, app)

	cfg := testConfig(t, asRole(t, url, svc))
	cfg.PruneInterval = time.Hour // Open checks DELETE; the test clock never ticks, the test prunes itself
	cfg.MaxSessionAge = time.Hour
	cfg.Leeway = 30 * time.Second
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open as a role holding only %s: %v", DaemonRole, err)
	}
	seen := watchApplied(s)
	d := run(t, s)
	<-d.replica.Loaded()

	var keepCutoffs, keepDenials time.Duration
	if err := su.QueryRow(ctx, "SELECT keep_cutoffs, keep_denials FROM revokd.prune_policy").Scan(&keepCutoffs, &keepDenials); err != nil {
		t.Fatal(err)
	}
	if keepCutoffs != time.Hour || keepDenials != 30*time.Second {
		t.Errorf("prune policy = %s, %s; want the daemon's 1h, 30s", keepCutoffs, keepDenials)
	}

	// The daemon writes through the functions.
	if stored, err := d.RevokeToken(ctx, "jti-daemon", time.Now().Add(time.Hour)); err != nil || !stored {
		t.Errorf("daemon RevokeToken = %v, %v; want true", stored, err)
	}
	if _, err := d.RevokeAll(ctx, "sub", "by-daemon", time.Time{}); err != nil {
		t.Errorf("daemon RevokeAll: %v", err)
	}
	if _, err := d.Unban(ctx, "sub", "by-daemon"); err != nil {
		t.Errorf("daemon Unban: %v", err)
	}

	// The app revokes, and the daemon follows.
	appConn := connect(t, asRole(t, url, app))
	var stored bool
	if err := appConn.QueryRow(ctx, "SELECT revokd.revoke_token('jti-app', now() + interval '1 hour')").Scan(&stored); err != nil || !stored {
		t.Fatalf("app revoke_token = %v, %v; want true", stored, err)
	}
	mustExec(t, appConn, "SELECT revokd.revoke_all('sub', 'app-user')")
	mustExec(t, appConn, "SELECT revokd.revoke_all('sub', 'banned', now() + interval '1 day')")
	mustExec(t, appConn, "SELECT revokd.unban('sub', 'banned')")
	seen.wait("jti-app", "app-user", "banned")
	if !d.replica.Denied("jti-app") {
		t.Error("the daemon did not follow the app's denial")
	}
	if _, ok := d.replica.Cutoff("sub", "app-user"); !ok {
		t.Error("the daemon did not follow the app's cutoff")
	}

	// Nothing else, for the app; no direct writes, for the daemon.
	for _, sql := range []string{
		"SELECT * FROM revokd.cutoffs",
		"SELECT * FROM revokd.denials",
		"SELECT * FROM revokd.prune_policy",
		"INSERT INTO revokd.denials (token_id, expires_at) VALUES ('direct', now() + interval '1 hour')",
		"UPDATE revokd.cutoffs SET before = '1970-01-02Z'",
		"DELETE FROM revokd.denials",
		"DELETE FROM revokd.cutoffs",
		"UPDATE revokd.prune_policy SET keep_denials = '0 seconds'",
		"SELECT pg_catalog.nextval('revokd.version_seq')",
	} {
		wantDenied(t, appConn, WriterRole, sql)
	}
	svcConn := connect(t, asRole(t, url, svc))
	wantDenied(t, svcConn, DaemonRole, "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('direct', now() + interval '1 hour')")
	wantDenied(t, svcConn, DaemonRole, "UPDATE revokd.cutoffs SET before = '1970-01-02Z'")

	// A role with neither can change nothing.
	before, beforeDenials := dbState(t, su)
	nobodyConn := connect(t, asRole(t, url, nobody))
	for _, sql := range []string{
		"SELECT revokd.revoke_token('jti-nobody', now() + interval '1 hour')",
		"SELECT revokd.revoke_all('sub', 'nobody')",
		"SELECT revokd.unban('sub', 'app-user')",
		"DELETE FROM revokd.denials",
		"UPDATE revokd.cutoffs SET before = '1970-01-02Z'",
	} {
		wantDenied(t, nobodyConn, "a role with neither", sql)
	}
	after, afterDenials := dbState(t, su)
	if len(after) != len(before) || len(afterDenials) != len(beforeDenials) {
		t.Errorf("a role with neither changed the tables: %d cutoffs, %d denials; want %d, %d",
			len(after), len(afterDenials), len(before), len(beforeDenials))
	}

	// The daemon prunes what no daemon needs any more.
	mustExec(t, su, "SELECT revokd.revoke_all('sub', 'long-ago', now() - interval '1 day')")
	mustExec(t, su, "INSERT INTO revokd.denials (token_id, expires_at) VALUES ('expired', now() - interval '1 day')")
	res, err := d.Prune(ctx)
	if err != nil || !res.Locked || res.Cutoffs != 1 || res.Denials != 1 {
		t.Errorf("daemon Prune = %+v, %v; want the lock, 1 cutoff and 1 denial", res, err)
	}

	// Migrate keeps the roles' rights exactly what they need.
	mustExec(t, su, "GRANT SELECT ON revokd.cutoffs TO "+WriterRole)
	if _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, appConn, WriterRole+" after migrating again", "SELECT * FROM revokd.cutoffs")
	if err := appConn.QueryRow(ctx, "SELECT revokd.revoke_token('jti-app-2', now() + interval '1 hour')").Scan(&stored); err != nil || !stored {
		t.Errorf("app revoke_token after migrating again = %v, %v; want true", stored, err)
	}
}

// TestOpenNamesTheMissingGrant: a role without revokd_daemon's rights is
// refused at Open with what is missing and the GRANT to run, not retried as
// a database that is not reachable yet. Grants taken back after Open stop
// Run the same way.
func TestOpenNamesTheMissingGrant(t *testing.T) {
	url := migratedDB(t)
	su := connect(t, url)
	tests := []struct {
		name    string
		grants  string // run as the superuser, %[1]s the role
		missing string
	}{
		{"nothing", "", "permission denied for schema revokd"},
		{"the grants documented before 0004", appGrants, "permission denied for table schema_version"},
		{"all but the policy", appGrants + "GRANT SELECT ON revokd.schema_version TO %[1]s;", "lacks UPDATE on revokd.prune_policy, DELETE on revokd.cutoffs, DELETE on revokd.denials"},
		{"revokd_writer", "GRANT " + WriterRole + " TO %[1]s;", "permission denied for table schema_version"},
		{"revokd_writer and the schema version", "GRANT " + WriterRole + " TO %[1]s; GRANT SELECT ON revokd.schema_version TO %[1]s;",
			"lacks SELECT on revokd.cutoffs, SELECT on revokd.denials, SELECT on revokd.prune_policy, UPDATE on revokd.prune_policy, DELETE on revokd.cutoffs, DELETE on revokd.denials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			role := newRole(t, su, "daemon")
			if tc.grants != "" {
				mustExec(t, su, sprintfIdent(tc.grants, role))
			}
			cfg := testConfig(t, asRole(t, url, role))
			cfg.PruneInterval = time.Hour
			s, err := Open(context.Background(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want a *PermissionError")
			}
			var perr *PermissionError
			if !errors.As(err, &perr) {
				t.Fatalf("Open error = %v, want a *PermissionError", err)
			}
			for _, want := range []string{tc.missing, "grant revokd_daemon to this role (GRANT revokd_daemon TO " + role + ")"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open error = %q, want it to say %q", err, want)
				}
			}
		})
	}

	t.Run("taken back after Open", func(t *testing.T) {
		role := newRole(t, su, "daemon")
		grant(t, su, DaemonRole, role)
		s, err := Open(context.Background(), testConfig(t, asRole(t, url, role)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		mustExec(t, su, "REVOKE "+DaemonRole+" FROM "+pgx.Identifier{role}.Sanitize())
		var perr *PermissionError
		if err := s.Run(context.Background()); !errors.As(err, &perr) || !strings.Contains(err.Error(), "GRANT revokd_daemon TO "+role) {
			t.Errorf("Run = %v, want a *PermissionError naming the grant", err)
		}
		if got := s.attempts.Load(); got != 1 {
			t.Errorf("feed connection attempts = %d, want 1: a refused privilege is not retried", got)
		}
	})
}

// TestMigrateWithoutCreateRole: roles belong to the cluster, so this test
// has a cluster of its own, where they do not exist yet. A migrator without
// CREATEROLE is told what a superuser must run, and nothing is applied;
// once the roles exist, it migrates and grants them their rights.
func TestMigrateWithoutCreateRole(t *testing.T) {
	cluster := pgtest.Start(t)
	url := cluster.NewDatabase(t)
	su := connect(t, url)
	ctx := context.Background()
	migrator := newRole(t, su, "migrator")
	var db string
	if err := su.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER TO "+pgx.Identifier{migrator}.Sanitize())

	_, err := Migrate(ctx, asRole(t, url, migrator))
	if !errors.Is(err, ErrCannotCreateRoles) {
		t.Fatalf("Migrate without CREATEROLE = %v, want ErrCannotCreateRoles", err)
	}
	if want := "CREATE ROLE revokd_daemon NOLOGIN; CREATE ROLE revokd_writer NOLOGIN;"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say to run %q", err, want)
	}
	var schemas int
	if err := su.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'revokd'").Scan(&schemas); err != nil || schemas != 0 {
		t.Errorf("schemas named revokd after the failed migration = %d, %v; want 0: nothing applied", schemas, err)
	}

	mustExec(t, su, "CREATE ROLE revokd_daemon NOLOGIN; CREATE ROLE revokd_writer NOLOGIN")
	if _, err := Migrate(ctx, asRole(t, url, migrator)); err != nil {
		t.Fatalf("Migrate once the roles exist: %v", err)
	}
	var may bool
	if err := su.QueryRow(ctx, "SELECT has_function_privilege('revokd_writer', 'revokd.revoke_all(text, text, timestamptz)', 'EXECUTE')").Scan(&may); err != nil || !may {
		t.Errorf("revokd_writer may execute revoke_all = %v, %v; want true", may, err)
	}
}
