package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestNewDatabase(t *testing.T) {
	c := Start(t)
	a, b := c.NewDatabase(t), c.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share URL %s", a)
	}
	if got, want := query(t, a, "SELECT current_database()"), databaseName(t.Name(), dbSeq.Load()-1); got != want {
		t.Errorf("first database = %q, want %q", got, want)
	}
}

func TestDatabaseName(t *testing.T) {
	long := "TestX/" + string(make([]byte, 100))
	tests := []struct {
		name, test string
		seq        int64
		want       string
	}{
		{"plain", "TestFoo", 1, "t1_testfoo"},
		{"subtest", "TestFoo/bar baz", 7, "t7_testfoo_bar_baz"},
		{"truncated", long, 3, "t3_testx_" + string(repeat('_', 54))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := databaseName(tc.test, tc.seq); got != tc.want {
				t.Errorf("databaseName(%q, %d) = %q, want %q", tc.test, tc.seq, got, tc.want)
			}
		})
	}
}

func repeat(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}
