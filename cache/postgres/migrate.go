package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrSchemaTooOld means the database's revokd schema is missing or older than
// this build needs. Nothing is changed on its own: an operator runs the
// migrations.
var ErrSchemaTooOld = errors.New("the database's revokd schema is older than this revokd needs: run `revokd migrate --database-url …` (or start with --migrate)")

// Advisory lock keys, one per job, so migrating never waits on pruning.
const (
	migrateLockKey int64 = 0x7265766f6b64_01 // "revokd" + 1
	pruneLockKey   int64 = 0x7265766f6b64_02
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// The roles Migrate creates and keeps: the daemon's, and apps' that only
// revoke. An operator grants them to login roles.
const (
	DaemonRole = "revokd_daemon"
	WriterRole = "revokd_writer"
)

// rolesSQL grants the roles exactly their rights; it runs on every Migrate.
//
//go:embed roles.sql
var rolesSQL string

// ErrCannotCreateRoles means the roles Migrate keeps do not exist and the
// migrating role may not create them (roles belong to the whole cluster, so
// creating one needs CREATEROLE). Migrate then changes nothing.
var ErrCannotCreateRoles = errors.New("cannot create roles")

type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded files NNNN_name.sql, in order, numbered 1, 2, ….
var migrations = mustLoadMigrations(migrationFiles)

// SchemaVersion is the schema version this build needs: its newest migration.
var SchemaVersion = migrations[len(migrations)-1].version

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err) // the files are compiled in; a bad one is a build mistake
	}
	return ms
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var ms []migration
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want a name starting %04d_", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations embedded")
	}
	return ms, nil
}

// Migrated says what a migration run found and left: the schema version
// before and after. From == To means there was nothing to do.
type Migrated struct{ From, To int }

func (m Migrated) String() string {
	if m.From == m.To {
		return fmt.Sprintf("schema revokd already at version %d; nothing to do", m.To)
	}
	return fmt.Sprintf("schema revokd migrated from version %d to %d", m.From, m.To)
}

// Migrate creates or updates the revokd schema at url, creates the roles
// revokd_daemon and revokd_writer if they are missing, and grants them
// exactly their rights, afresh on every run. It is idempotent and safe to
// run from many daemons at once: all of it runs in one transaction holding
// an advisory lock, so a second migrator waits and then finds nothing left
// to do; and it applies all of it or, on any error, none.
func Migrate(ctx context.Context, url string) (Migrated, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return Migrated{}, fmt.Errorf("migrate: parse database URL: %w", err)
	}
	setDefaultParam(cfg.RuntimeParams, "application_name", "revokd-migrate")
	pinSearchPath(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return Migrated{}, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn)
}

// migrate is Migrate on an open connection, whose search_path is pinned.
func migrate(ctx context.Context, conn *pgx.Conn) (Migrated, error) {
	var m Migrated
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// The lock is taken before anything is read, and each later statement
		// reads a fresh snapshot, so the version read below is what the last
		// migrator committed.
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS revokd;
			CREATE TABLE IF NOT EXISTS revokd.schema_version (
				version    integer     PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT pg_catalog.now()
			)`); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		// Roles first: a migrator that cannot create them fails before
		// anything else is done (and the transaction undoes the schema).
		if err := ensureRoles(ctx, tx); err != nil {
			return err
		}
		have, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		m = Migrated{From: have, To: have}
		for _, mg := range migrations {
			if mg.version <= have {
				continue
			}
			if _, err := tx.Exec(ctx, mg.sql); err != nil {
				return fmt.Errorf("apply %s: %w", mg.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO revokd.schema_version (version) VALUES ($1)", mg.version); err != nil {
				return fmt.Errorf("record %s: %w", mg.name, err)
			}
			m.To = mg.version
		}
		if _, err := tx.Exec(ctx, rolesSQL); err != nil {
			return fmt.Errorf("grant the roles their rights: %w", err)
		}
		return nil
	})
	if err != nil {
		return Migrated{}, fmt.Errorf("migrate: %w", err)
	}
	return m, nil
}

// ensureRoles creates the roles that do not exist yet, NOLOGIN: they only
// hold rights, for login roles to be granted. The advisory lock is the
// database's, while roles are the cluster's, so a migrator of another
// database in the same cluster may create one at the same moment; that is
// no error. Roles that exist are left as they are, so a migrator without
// CREATEROLE can keep them up to date.
func ensureRoles(ctx context.Context, tx pgx.Tx) error {
	rows, _ := tx.Query(ctx, `SELECT r.name FROM pg_catalog.unnest($1::pg_catalog.text[]) AS r(name)
		WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles a WHERE a.rolname = r.name)`,
		[]string{DaemonRole, WriterRole})
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("look up roles: %w", err)
	}
	if len(missing) == 0 {
		return nil
	}
	var user string
	var mayCreate bool
	if err := tx.QueryRow(ctx, `SELECT current_user, rolsuper OR rolcreaterole
		FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&user, &mayCreate); err != nil {
		return fmt.Errorf("look up the migrating role: %w", err)
	}
	if !mayCreate {
		create := make([]string, len(missing))
		for i, r := range missing {
			create[i] = "CREATE ROLE " + r + " NOLOGIN;"
		}
		return fmt.Errorf("%w: role %s lacks CREATEROLE, and these roles are missing: %s; as a superuser, run `%s` then migrate again (nothing was changed)",
			ErrCannotCreateRoles, sqlName(user), strings.Join(missing, ", "), strings.Join(create, " "))
	}
	for _, r := range missing {
		_, err := tx.Exec(ctx, `DO $$ BEGIN
			CREATE ROLE `+r+` NOLOGIN;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL; -- made meanwhile by a migrator of another database
		END $$`)
		if err != nil {
			return fmt.Errorf("create role %s: %w", r, err)
		}
	}
	return nil
}

// sqlName is a role name as it would be typed in SQL: bare when it needs no
// quotes, quoted otherwise.
func sqlName(name string) string {
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			return pgx.Identifier{name}.Sanitize()
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion returns the newest migration applied, 0 when there is no
// revokd schema at all.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(pg_catalog.max(version), 0) FROM revokd.schema_version").Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined table, schema
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// checkSchema returns ErrSchemaTooOld when the database needs migrating.
// A newer schema is fine: migrations only add.
func checkSchema(ctx context.Context, q querier) error {
	have, err := schemaVersion(ctx, q)
	if err != nil {
		return err
	}
	if have < SchemaVersion {
		return fmt.Errorf("%w (database has schema version %d, this build needs %d)", ErrSchemaTooOld, have, SchemaVersion)
	}
	return nil
}
