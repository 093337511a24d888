package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// snapshotTimeout bounds loading the snapshot: a connection that dies
// silently mid-load must not stall the feed for ever.
const snapshotTimeout = 5 * time.Minute

// bigSnapshot is the size from which a load returns freed memory to the OS.
const bigSnapshot = 100_000

// Run follows the store until ctx is cancelled: it loads the snapshot, marks
// the replica ready, applies every change, reconnects after any error, and
// prunes every PruneInterval. It returns nil once ctx is done and every
// goroutine it started has stopped, or ErrSchemaTooOld if the database turns
// out to need migrating.
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
		if errors.Is(err, ErrSchemaTooOld) {
			s.state.Store(stateDisconnected)
			return fmt.Errorf("postgres: %w", err)
		}
		if synced {
			s.reconnects.Add(1)
			s.state.Store(stateDisconnected)
		}
		delay := b.next()
		s.log.Warn("database feed lost; reconnecting",
			slog.Any("error", err), slog.Duration("retry_in", delay), slog.String("state", s.Status().State))
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

// session runs one connection: LISTEN, snapshot, then notifications until an
// error. It reports whether it got as far as a loaded snapshot.
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
	// LISTEN before reading the snapshot: a change committed after the
	// snapshot's start is then both missed by it and notified, never lost.
	opCtx, cancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
	err = checkSchema(opCtx, conn)
	if err == nil {
		err = s.declareSessionAge(opCtx, conn)
	}
	if err == nil {
		_, err = conn.Exec(opCtx, "LISTEN revokd")
	}
	cancel()
	if err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	s.touch()

	loadCtx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	start := time.Now()
	n, err := s.loadSnapshot(loadCtx, conn)
	cancel()
	if err != nil {
		return false, fmt.Errorf("load snapshot: %w", err)
	}
	s.touch()
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
		slog.Int("cutoffs", cutoffs), slog.Int("denials", denials), slog.Int64("version", s.replica.Version()))

	return true, s.listen(ctx, conn)
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

// listen applies notifications until an error. When none arrives for half a
// heartbeat it pings, with half a heartbeat to answer, so a dead connection
// is found within one heartbeat.
func (s *Source) listen(ctx context.Context, conn *pgx.Conn) error {
	half := s.cfg.Heartbeat / 2
	for {
		waitCtx, cancel := context.WithTimeout(ctx, half)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if n != nil { // pgx may hand back a buffered notification with an error
			s.touch()
			if err := s.apply(n); err != nil {
				return err
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
		s.touch()
	}
}

// apply applies one notification to the replica. The replica keeps the
// newest version per key, so a repeated or old notification changes nothing.
// A payload that cannot be read might be a change the replica needs, so it
// ends the session, and the next one reloads the snapshot.
func (s *Source) apply(n *pgconn.Notification) error {
	c, err := parseChange(n.Payload)
	if err != nil {
		return fmt.Errorf("notification from backend %d: %w", n.PID, err)
	}
	c.applyTo(s.replica)
	if s.appliedHook != nil {
		s.appliedHook(c)
	}
	return nil
}
