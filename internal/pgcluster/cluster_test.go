package pgcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

func TestClusterLifecycle(t *testing.T) {
	c, err := StartCluster("")
	if err != nil {
		t.Fatal(err)
	}
	dir, sock := c.dir, c.SocketDir()
	if err := c.CreateDatabase("app"); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{c.URL("app"), c.TCPURL("app")} {
		if got := query(t, url, "SELECT current_database()"); got != "app" {
			t.Errorf("current_database() over %s = %q, want app", url, got)
		}
	}
	if got := query(t, c.URL("app"), "SELECT current_setting('fsync')"); got != "off" {
		t.Errorf("fsync = %q, want off", got)
	}
	port := c.Port()

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Error("Running() = true after Stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.URL("app")); err == nil {
		conn.Close(ctx)
		t.Error("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if c.Port() != port {
		t.Errorf("port after Start = %d, want %d", c.Port(), port)
	}
	if got := query(t, c.TCPURL("app"), "SELECT current_database()"); got != "app" {
		t.Errorf("after restart current_database() = %q, want app", got)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil { // crash recovery
		t.Fatal(err)
	}
	if err := c.DropDatabase("app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, sock} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Close: %v", p, err)
		}
	}
}

func TestStartInGivenDir(t *testing.T) {
	// The directory must be reachable by the postgres user when run as root,
	// so it is made under a world-searchable temporary directory.
	parent, err := os.MkdirTemp("", "pgcluster-given-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := StartCluster(parent + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL("postgres"), "SELECT current_setting('data_directory')"); got != c.DataDir() {
		t.Errorf("data_directory = %q, want %q", got, c.DataDir())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.DataDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir still there after Close: %v", err)
	}
}

func TestFindBinaries(t *testing.T) {
	t.Setenv("REVOKD_PG_BIN", "")
	t.Setenv("PATH", t.TempDir())
	installed, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	dir, err := findBinaries()
	if len(installed) == 0 {
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("findBinaries() with nothing installed = %q, %v; want ErrNoBinaries", dir, err)
		}
		return
	}
	// With nothing in PATH, the newest /usr/lib/postgresql/N/bin answers.
	if err != nil || majorVersion(dir) == 0 {
		t.Errorf("findBinaries() = %q, %v; want a /usr/lib/postgresql/N/bin", dir, err)
	}
}
