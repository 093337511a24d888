package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/revokd/revokd/cache"
)

// snapshotTimeout bounds loading the snapshot: a connection that dies
// silently mid-load must not stall the feed for ever.
const snapshotTimeout = 5 * time.Minute

// bigSnapshot is the size from which a load returns freed memory to the OS.
const bigSnapshot = 100_000

// Run follows the store until ctx is cancelled: it loads the snapshot, marks
// the replica ready, applies every change, reconnects after any error, and
// prunes every PruneInterval. It returns nil once ctx is done and every
// goroutine it started has stopped, or an error no retry can fix:
// ErrSchemaTooOld if the database turns out to need migrating, a
// *PermissionError if the role lacks a right (SQLSTATE 42501), or
// ErrCannotCreateRoles from Config.Migrate.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("postgres: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if s.cfg.PruneInterval > 0 {
		wg.Go(func() { s.pruneLoop(ctx) })
	}
	err := s.follow(ctx)
	cancel()
	wg.Wait()
	return err
}

// follow runs feed sessions, one per connection, until ctx is done.
func (s *Source) follow(ctx context.Context) error {
	b := newBackoff(s.cfg.BackoffMin, s.cfg.BackoffMax)
	for {
		synced, err := s.session(ctx, b.reset)
		if ctx.Err() != nil {
			s.state.Store(stateDisconnected)
			return nil
		}
		// Retrying cannot fix these; an operator must migrate or grant.
		if errors.Is(err, ErrSchemaTooOld) || errors.Is(err, ErrCannotCreateRoles) || denied(err) {
			s.state.Store(stateDisconnected)
			return fmt.Errorf("postgres: %w", err)
		}
		if synced {
			s.reconnects.Add(1)
			s.state.Store(stateDisconnected)
		}
		delay := b.next()
		s.log.Warn("database feed lost; reconnecting",
			slog.String("error", shortError(err)), slog.Duration("retry_in", delay), slog.String("state", s.Status().State))
		s.log.Debug("database feed lost", slog.Any("error", err))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			s.state.Store(stateDisconnected)
			return nil
		case <-t.C:
		}
	}
}

// session runs one connection: the migrations when Config.Migrate asks and
// they are not done yet, then sync. It reports whether it got as far as a
// loaded snapshot. A privilege refused after the migrations is the
// daemon's role's: a *PermissionError names the grant.
func (s *Source) session(ctx context.Context, onSynced func()) (synced bool, err error) {
	s.attempts.Add(1)
	if s.connectHook != nil {
		if err := s.connectHook(ctx); err != nil {
			return false, err
		}
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = conn.Close(closeCtx)
		cancel()
	}()
	s.listenerPID.Store(conn.PgConn().PID())

	if s.cfg.Migrate && !s.migrated.Load() {
		migrateCtx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
		m, err := migrate(migrateCtx, conn)
		cancel()
		if err != nil {
			return false, err
		}
		s.migrated.Store(true)
		s.log.Info(m.String())
	}
	synced, err = s.sync(ctx, conn, onSynced)
	return synced, s.needsRole(err)
}

// sync runs the daemon's side of one connection: LISTEN, snapshot, then
// notifications until an error. It reports whether it got as far as a
// loaded snapshot.
func (s *Source) sync(ctx context.Context, conn *pgx.Conn, onSynced func()) (synced bool, err error) {
	// LISTEN before reading the snapshot: a change committed after the
	// snapshot's start is then both missed by it and notified, never lost.
	opCtx, cancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
	err = checkSchema(opCtx, conn)
	if err == nil {
		err = s.declarePolicy(opCtx, conn)
	}
	if err == nil {
		_, err = conn.Exec(opCtx, "LISTEN revokd")
	}
	cancel()
	if err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	s.replica.Touch()

	loadCtx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	start := time.Now()
	n, err := s.loadSnapshot(loadCtx, conn)
	cancel()
	if err != nil {
		return false, fmt.Errorf("load snapshot: %w", err)
	}
	s.replica.Touch()
	if n >= bigSnapshot {
		// Growing the replica's maps row by row leaves their outgrown tables
		// behind as garbage: for 2M rows, tens of MB the runtime would keep
		// resident for a while. Give them back now, once per large load.
		debug.FreeOSMemory()
	}
	s.syncs.Add(1)
	s.replica.SetReady()
	s.state.Store(stateSynced)
	onSynced()
	cutoffs, denials := s.replica.Sizes()
	s.log.Info("database feed synced",
		slog.Int("rows_loaded", n), slog.Duration("load_time", time.Since(start)),
		slog.Int("cutoffs", cutoffs), slog.Int("denials", denials), slog.Int64("data_version", s.replica.Version()))

	return true, s.listen(ctx, conn)
}

// shortError is err on one line, for the warning each reconnect logs. pgx
// reports a failed connect with one line per address and TLS mode it tried
// ("server refused TLS connection" for sslmode=prefer against a server
// without TLS, then why the plain attempt failed); the last attempt's
// cause is the one that says why the database cannot be reached. The full
// error goes to the debug log.
func shortError(err error) string {
	msg := err.Error()
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		last := ce.Unwrap()
		if joined, ok := last.(interface{ Unwrap() []error }); ok {
			if errs := joined.Unwrap(); len(errs) > 0 {
				last = errs[len(errs)-1]
			}
		}
		msg = strings.Replace(msg, ce.Error(), last.Error(), 1)
	}
	return strings.Join(strings.Fields(msg), " ")
}

func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	// A server that accepts TCP but never answers must not hold the feed.
	ctx, cancel := context.WithTimeout(ctx, max(2*s.cfg.Heartbeat, 2*time.Second))
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.connConfig)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// listen follows notifications until an error. When none arrives for half a
// heartbeat it pings, with half a heartbeat to answer, so a dead connection
// is found within one heartbeat.
//
// A notification is only a hint: the rows it names are read from the tables
// and applied by version. Notifications that pgx buffered meanwhile (it
// keeps those that arrive during a query) are taken with it, so a burst
// costs one read. Nothing in a payload can end the session: a forged or
// garbage notification costs at most one read, and is counted.
func (s *Source) listen(ctx context.Context, conn *pgx.Conn) error {
	half := s.cfg.Heartbeat / 2
	var hints []change
	for {
		waitCtx, cancel := context.WithTimeout(ctx, half)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if n != nil { // pgx may hand back a buffered notification with an error
			s.replica.Touch()
			hints = s.hint(hints[:0], n)
			for len(hints) < maxHints {
				if n = bufferedNotification(conn); n == nil {
					break
				}
				hints = s.hint(hints, n)
			}
			if len(hints) > 0 {
				readCtx, cancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
				rerr := s.readHinted(readCtx, conn, hints)
				cancel()
				if rerr != nil {
					return fmt.Errorf("read notified rows: %w", rerr)
				}
			}
		}
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err):
			return fmt.Errorf("wait for notification: %w", err)
		}
		pingCtx, cancel := context.WithTimeout(ctx, half)
		err = conn.Ping(pingCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		s.replica.Touch()
	}
}

// maxHints bounds how many notifications one read covers.
const maxHints = 1000

// doneCtx is already cancelled: WaitForNotification with it returns a
// notification pgx has buffered, or at once none, without touching the
// connection.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func bufferedNotification(conn *pgx.Conn) *pgconn.Notification {
	n, _ := conn.WaitForNotification(doneCtx)
	return n
}

// hint appends the row a notification names, or counts the notification as
// ignored when its payload is unusable: not JSON, an unknown kind, or a key
// the store could never hold. Those cost no read.
func (s *Source) hint(hints []change, n *pgconn.Notification) []change {
	c, err := parseChange(n.Payload)
	if err != nil {
		s.ignored.Add(1)
		s.log.Debug("notification ignored", slog.Uint64("backend_pid", uint64(n.PID)), slog.Any("error", err))
		return hints
	}
	return append(hints, c)
}

// Reading the rows notifications name, every kind in one round trip. The
// connection's search_path is pinned, and every name is qualified anyway.
const (
	readCutoffsSQL = `SELECT c.claim, c.value, c.before, c.version
		FROM revokd.cutoffs c,
			ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS k(claim, value)
		WHERE c.claim = k.claim AND c.value = k.value`
	readDenialsSQL = `SELECT d.token_id, d.expires_at, d.version
		FROM revokd.denials d WHERE d.token_id = ANY ($1::pg_catalog.text[])`
)

// readHinted reads the rows the hints name and applies them by version. A
// hint whose row is missing, or holds an earlier version than the hint
// names, is one the tables do not back: it changes nothing and is counted.
func (s *Source) readHinted(ctx context.Context, conn *pgx.Conn, hints []change) error {
	type key struct{ kind, claim, value string }
	seen := make(map[key]bool, len(hints))
	var claims, values, ids []string
	for _, h := range hints {
		k := key{h.Kind, h.Claim, h.Key}
		if seen[k] {
			continue
		}
		seen[k] = true
		if h.Kind == "cutoff" {
			claims, values = append(claims, h.Claim), append(values, h.Key)
		} else {
			ids = append(ids, h.Key)
		}
	}

	held := make(map[key]int64, len(seen)) // version read for each key found
	b := &pgx.Batch{}
	if len(claims) > 0 {
		b.Queue(readCutoffsSQL, claims, values).Query(func(rows pgx.Rows) error {
			var c cache.Cutoff
			_, err := pgx.ForEachRow(rows, []any{&c.Claim, &c.Value, &c.Before, &c.Version}, func() error {
				s.replica.ApplyCutoff(c)
				held[key{"cutoff", c.Claim, c.Value}] = c.Version
				return nil
			})
			return err
		})
	}
	if len(ids) > 0 {
		b.Queue(readDenialsSQL, ids).Query(func(rows pgx.Rows) error {
			var d cache.Denial
			_, err := pgx.ForEachRow(rows, []any{&d.ID, &d.ExpiresAt, &d.Version}, func() error {
				s.replica.ApplyDenial(d)
				held[key{"denial", "", d.ID}] = d.Version
				return nil
			})
			return err
		})
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	s.replica.Touch()
	for _, h := range hints {
		if v, ok := held[key{h.Kind, h.Claim, h.Key}]; !ok || v < h.Version {
			s.ignored.Add(1)
			s.log.Debug("notification not backed by the tables; ignored",
				slog.String("kind", h.Kind), slog.String("claim", h.Claim), slog.Int64("data_version", h.Version),
				slog.Int64("data_version_held", v), slog.Bool("row_found", ok))
		}
		if s.appliedHook != nil {
			s.appliedHook(h)
		}
	}
	return nil
}
