package postgres

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
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
