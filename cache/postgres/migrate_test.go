package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/revokd/revokd/internal/pgtest"
	"github.com/revokd/revokd/internal/testwait"
)

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
		rounds      int
	}{
		{"twice", 1, 2},
		{"concurrently", 4, 1},
		{"concurrently twice", 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := pgtest.Shared(t).NewDatabase(t)
			for range tc.rounds {
				var wg sync.WaitGroup
				errs := make(chan error, tc.concurrency)
				for range tc.concurrency {
					wg.Go(func() { _, err := Migrate(context.Background(), url); errs <- err })
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("Migrate: %v", err)
					}
				}
			}
			conn := connect(t, url)
			var rows, maxVersion int
			if err := conn.QueryRow(context.Background(),
				"SELECT count(*), max(version) FROM revokd.schema_version").Scan(&rows, &maxVersion); err != nil {
				t.Fatal(err)
			}
			if rows != len(migrations) || maxVersion != SchemaVersion {
				t.Errorf("schema_version has %d rows up to %d, want %d up to %d", rows, maxVersion, len(migrations), SchemaVersion)
			}
			var stored bool
			if err := conn.QueryRow(context.Background(),
				"SELECT revokd.revoke_token('after-migrate', now() + interval '1 hour')").Scan(&stored); err != nil || !stored {
				t.Errorf("revoke_token after migrating = %v, %v; want true, nil", stored, err)
			}
		})
	}
}

func TestOpenRefusesOldSchema(t *testing.T) {
	tests := []struct {
		name  string
		setup string
	}{
		{"no schema", ""},
		{"empty schema_version", "CREATE SCHEMA revokd; CREATE TABLE revokd.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"},
		{"schema without version table", "CREATE SCHEMA revokd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := pgtest.Shared(t).NewDatabase(t)
			if tc.setup != "" {
				mustExec(t, connect(t, url), tc.setup)
			}
			s, err := Open(context.Background(), testConfig(t, url))
			if err == nil {
				s.Close()
				t.Fatal("Open on an unmigrated database succeeded, want ErrSchemaTooOld")
			}
			if !errors.Is(err, ErrSchemaTooOld) {
				t.Fatalf("Open error = %v, want ErrSchemaTooOld", err)
			}
			if !strings.Contains(err.Error(), "revokd migrate") {
				t.Errorf("error %q does not name `revokd migrate`", err)
			}
			if _, err := Migrate(context.Background(), url); err != nil {
				t.Fatal(err)
			}
			s, err = Open(context.Background(), testConfig(t, url))
			if err != nil {
				t.Fatalf("Open after Migrate: %v", err)
			}
			s.Close()
		})
	}
}

func TestOpenRefusesMissingDatabase(t *testing.T) {
	url := pgtest.Shared(t).URL("no_such_database")
	s, err := Open(context.Background(), testConfig(t, url))
	if err == nil {
		s.Close()
		t.Fatal("Open on a missing database succeeded")
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(body string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(body)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []int
		wantErr bool
	}{
		{"in order", fstest.MapFS{"migrations/0002_b.sql": file("b"), "migrations/0001_a.sql": file("a")}, []int{1, 2}, false},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/0003_c.sql": file("c")}, nil, true},
		{"no number", fstest.MapFS{"migrations/schema.sql": file("a")}, nil, true},
		{"none", fstest.MapFS{}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.fs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("loadMigrations error = %v, want error %v", err, tc.wantErr)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("versions = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("versions = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestRunStopsOnOldSchema(t *testing.T) {
	url := migratedDB(t)
	s, err := Open(context.Background(), testConfig(t, url))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Someone restores an old dump between Open and Run: following it would
	// read tables that are not there, so Run gives up with the same error.
	mustExec(t, connect(t, url), "DROP SCHEMA revokd CASCADE")
	ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(t))
	defer cancel()
	if err := s.Run(ctx); !errors.Is(err, ErrSchemaTooOld) {
		t.Errorf("Run = %v, want ErrSchemaTooOld", err)
	}
	if s.replica.Ready() {
		t.Error("replica marked ready without a snapshot")
	}
	if err := s.Run(ctx); err == nil {
		t.Error("a second Run succeeded, want an error")
	}
}
