// Package postgres keeps a cache.Replica in step with PostgreSQL, the source
// of truth shared by every revokd.
//
// The schema (revokd.cutoffs, revokd.denials, one version sequence) and its
// SQL API (revokd.revoke_token, revokd.revoke_all, revokd.unban) are embedded
// migrations applied by Migrate. Apps may call the functions inside their own
// transactions; a trigger sends pg_notify('revokd', …) for every change, so
// direct writes are seen too. Migrate also keeps two NOLOGIN roles with
// exactly the rights each side needs, for operators to grant to login roles:
// revokd_daemon (a Source) and revokd_writer (apps that revoke; the three
// functions run with their owner's rights, so it needs no table rights).
//
// A Source follows the store on a dedicated connection: LISTEN first, then
// load the snapshot, then follow notifications. A notification is a hint,
// never data: anyone who can connect can NOTIFY, so the Source reads the row
// a notification names from the tables and applies it by version. On any
// error it reconnects with backoff and loads a fresh snapshot, which
// replaces the replica whole: what the tables hold, and nothing else.
//
// Every connection the package opens pins search_path to pg_catalog, pg_temp,
// and every SQL function the migrations define pins it too, so no object
// another role creates in a schema on someone's search_path (public, say)
// can stand in for one revokd calls.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/revokd/revokd/cache"
)

// Defaults for the zero values of Config.
const (
	DefaultHeartbeat     = 5 * time.Second
	DefaultPruneInterval = 10 * time.Minute
	DefaultBackoffMin    = 100 * time.Millisecond
	DefaultBackoffMax    = 10 * time.Second
	DefaultWriteTimeout  = 5 * time.Second
	DefaultMaxConns      = 4
)

// Config configures a Source. URL and Replica are required.
type Config struct {
	URL     string         // PostgreSQL connection URL or DSN
	Replica *cache.Replica // kept in step with the store
	Clock   cache.Clock    // decides expiry for the snapshot filter and pruning; default cache.SystemClock
	Logger  *slog.Logger   // default discards: cache.SourceLogger

	// Heartbeat bounds how long a silently dead feed connection goes
	// unnoticed: after Heartbeat/2 without a notification the feed pings,
	// and a ping unanswered after Heartbeat/2 means reconnect. Default 5s.
	Heartbeat time.Duration
	// PruneInterval is how often expired rows are deleted (by one daemon at
	// a time) and the replica forgets expired entries. Default 10m;
	// negative disables pruning.
	PruneInterval time.Duration
	// Leeway is the clock skew the pipeline allows on exp, the replica's
	// leeway: the replica refuses a denied id until its exp plus Leeway, so
	// the snapshot loads denials until then, and the feed declares Leeway in
	// revokd.prune_policy, where pruning keeps every denial until its exp
	// plus the largest leeway any daemon declared.
	Leeway time.Duration
	// MaxSessionAge, when positive, lets pruning delete cutoffs older than it
	// and the snapshot skip them. It should match the replica's.
	MaxSessionAge time.Duration

	// Reconnect delays grow from BackoffMin to BackoffMax, doubling, with
	// jitter. Defaults 100ms and 10s.
	BackoffMin, BackoffMax time.Duration
	// WriteTimeout bounds a write when its context has no earlier deadline.
	// Default 5s.
	WriteTimeout time.Duration
	// MaxConns sizes the write and prune pool (the feed has its own
	// connection). Default 4.
	MaxConns int32
	// Migrate applies the embedded migrations before the schema is
	// checked: at Open when the database answers, else on the feed's first
	// connection, so a daemon started before its database still comes up.
	Migrate bool
}

// ErrInvalid wraps writes the database refused as invalid (a CHECK
// constraint, such as a token id over 512 bytes): a bad request, not an
// outage.
var ErrInvalid = fmt.Errorf("rejected by the database: %w", cache.ErrInvalid)

// Source is a cache.Source backed by PostgreSQL.
type Source struct {
	cfg        Config
	log        *slog.Logger
	replica    *cache.Replica
	clock      cache.Clock
	connConfig *pgx.ConnConfig // the feed's own connection
	pool       *pgxpool.Pool   // writes and pruning

	running    atomic.Bool
	state      atomic.Int32 // index into stateNames
	reconnects atomic.Int64
	ignored    atomic.Int64 // notifications ignored: unusable, or not backed by the tables

	// For tests and diagnostics.
	attempts    atomic.Int64  // feed connection attempts
	syncs       atomic.Int64  // snapshots loaded
	listenerPID atomic.Uint32 // backend pid of the current feed connection
	migrated    atomic.Bool   // Config.Migrate has been done
	connectHook func(context.Context) error
	appliedHook func(change)
}

var _ cache.Source = (*Source)(nil)

const (
	stateConnecting int32 = iota
	stateSynced
	stateDisconnected
)

var stateNames = [...]string{cache.StateConnecting, cache.StateSynced, cache.StateDisconnected}

// Open checks the configuration, the schema and the role's privileges and
// returns a Source; Run starts following. A database that cannot be reached
// yet is not an error (the feed keeps trying, and the replica is not ready
// until it succeeds), but one that answers with a schema older than this
// build needs is: ErrSchemaTooOld. So are refused credentials, a missing
// database, and a role without the rights revokd_daemon holds: a
// *PermissionError.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres: Config.URL is required")
	}
	if cfg.Replica == nil {
		return nil, errors.New("postgres: Config.Replica is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = cache.SystemClock{}
	}
	cfg.Logger = cache.SourceLogger(cfg.Logger)
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.PruneInterval == 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}

	connConfig, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	setDefaultParam(connConfig.RuntimeParams, "application_name", "revokd-feed")
	pinSearchPath(connConfig)
	poolConfig, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	setDefaultParam(poolConfig.ConnConfig.RuntimeParams, "application_name", "revokd")
	pinSearchPath(poolConfig.ConnConfig)
	poolConfig.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig) // connects lazily
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Source{
		cfg:        cfg,
		log:        cfg.Logger.With(slog.String("source", "postgres")),
		replica:    cfg.Replica,
		clock:      cfg.Clock,
		connConfig: connConfig,
		pool:       pool,
	}

	checkCtx, cancel := context.WithTimeout(ctx, cfg.WriteTimeout)
	defer cancel()
	if cfg.Migrate {
		m, err := Migrate(checkCtx, cfg.URL)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			s.migrated.Store(true)
			s.log.Info(m.String())
		case errors.As(err, &pgErr) || errors.Is(err, ErrCannotCreateRoles):
			// The server answered and refused: retrying will not help.
			pool.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		default:
			s.log.Warn("database not reachable yet; the feed will migrate once it connects", slog.String("error", shortError(err)))
			s.log.Debug("database not reachable yet", slog.Any("error", err))
			return s, nil
		}
	}
	err = checkSchema(checkCtx, pool)
	if err == nil {
		err = s.checkPrivileges(checkCtx, pool)
	}
	if err = s.needsRole(err); err != nil {
		var perr *PermissionError
		if errors.Is(err, ErrSchemaTooOld) || refused(err) || errors.As(err, &perr) {
			pool.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		}
		s.log.Warn("database not reachable yet; the feed will keep trying", slog.String("error", shortError(err)))
		s.log.Debug("database not reachable yet", slog.Any("error", err))
	}
	return s, nil
}

func setDefaultParam(params map[string]string, key, value string) {
	if params[key] == "" {
		params[key] = value
	}
}

// pinnedSearchPath is the search_path of every revokd session and function:
// the catalog first, temporary objects last, and no schema another role can
// create objects in.
const pinnedSearchPath = "pg_catalog, pg_temp"

// pinSearchPath sets search_path for a connection in its startup packet,
// whatever the URL, the role or the database set: what revokd sends never
// depends on the caller's search_path.
func pinSearchPath(cfg *pgx.ConnConfig) {
	cfg.RuntimeParams["search_path"] = pinnedSearchPath
}

// refused reports whether the server answered but will never accept us as
// configured: bad credentials or no such database.
func refused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code[:2] == "28" || pgErr.Code == "3D000")
}

// PermissionError says which right the daemon's role lacks, and what to
// grant: the role revokd_daemon, which Migrate keeps with exactly the
// rights a daemon needs. Retrying cannot help, so Open and Run return it.
type PermissionError struct {
	Role    string // the role the daemon logs in as
	Missing string // what is missing, in PostgreSQL's words or as a list of privileges
	Err     error  // the database's error, if it refused a statement
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s: grant %s to this role (GRANT %s TO %s)", e.Missing, DaemonRole, DaemonRole, sqlName(e.Role))
}

func (e *PermissionError) Unwrap() error { return e.Err }

// denied reports whether the database refused a privilege (SQLSTATE 42501).
func denied(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// needsRole turns the database's refusal of a privilege into a
// *PermissionError that names the grant; other errors pass unchanged.
func (s *Source) needsRole(err error) error {
	var pgErr *pgconn.PgError
	var perr *PermissionError
	if !denied(err) || errors.As(err, &perr) {
		return err
	}
	errors.As(err, &pgErr)
	return &PermissionError{Role: s.connConfig.User, Missing: pgErr.Message, Err: err}
}

// privilege is one right a daemon needs, as PostgreSQL's has_*_privilege
// functions name it.
type privilege struct{ kind, object, priv string }

// checkPrivileges returns a *PermissionError listing every right the
// daemon's role lacks, so that a role granted too little fails at start
// with the whole list rather than later, one statement at a time.
func (s *Source) checkPrivileges(ctx context.Context, q querier) error {
	need := []privilege{
		{"schema", "revokd", "USAGE"},
		{"table", "revokd.schema_version", "SELECT"},
		{"table", "revokd.cutoffs", "SELECT"},
		{"table", "revokd.denials", "SELECT"},
		{"table", "revokd.prune_policy", "SELECT"},
		{"table", "revokd.prune_policy", "UPDATE"},
		{"function", "revokd.revoke_token(text, timestamptz)", "EXECUTE"},
		{"function", "revokd.revoke_all(text, text, timestamptz)", "EXECUTE"},
		{"function", "revokd.unban(text, text)", "EXECUTE"},
	}
	if s.cfg.PruneInterval > 0 {
		need = append(need, privilege{"table", "revokd.cutoffs", "DELETE"}, privilege{"table", "revokd.denials", "DELETE"})
	}
	var kinds, objects, privs []string
	for _, p := range need {
		kinds, objects, privs = append(kinds, p.kind), append(objects, p.object), append(privs, p.priv)
	}
	var missing []string
	err := q.QueryRow(ctx, `SELECT coalesce(pg_catalog.array_agg(n.priv || ' on ' || n.object ORDER BY n.ord), '{}')
		FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]))
			WITH ORDINALITY AS n(kind, object, priv, ord)
		WHERE NOT CASE n.kind
			WHEN 'schema' THEN pg_catalog.has_schema_privilege(n.object, n.priv)
			WHEN 'table' THEN pg_catalog.has_table_privilege(n.object, n.priv)
			ELSE pg_catalog.has_function_privilege(n.object, n.priv) END`,
		kinds, objects, privs).Scan(&missing)
	if err != nil {
		return fmt.Errorf("check privileges: %w", err)
	}
	if len(missing) > 0 {
		return &PermissionError{Role: s.connConfig.User, Missing: "role " + sqlName(s.connConfig.User) + " lacks " + strings.Join(missing, ", ")}
	}
	return nil
}

// Status describes the feed. It is a handful of atomic loads, cheap enough
// for every validation.
func (s *Source) Status() cache.SourceStatus {
	st := cache.SourceStatus{
		Kind:        "postgres",
		State:       stateNames[s.state.Load()],
		LastContact: s.replica.LastContact(),
		Reconnects:  s.reconnects.Load(),

		NotificationsIgnored: s.ignored.Load(),
	}
	return st
}

// Close releases the write pool. Run must have returned.
func (s *Source) Close() error {
	s.pool.Close()
	return nil
}
