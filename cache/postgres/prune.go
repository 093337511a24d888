package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// PruneResult says what one Prune did.
type PruneResult struct {
	Locked  bool  // this daemon held the prune lock; false means another was pruning
	Denials int64 // rows deleted
	Cutoffs int64
}

// Prune deletes rows that can no longer reject any token, by the clock:
// denials whose exp lies further back than the largest leeway any daemon
// declared in revokd.prune_policy (and this one's own) and, when MaxSessionAge is set,
// cutoffs older than it, and than the longest maximum session age any
// daemon declared in revokd.prune_policy, by more than Leeway. Only one
// daemon prunes at a time: the one that gets the transaction-scoped
// advisory lock; the others skip.
//
// Deleting never notifies: replicas forget the same entries by their own
// clocks (cache.Replica.Prune), so a delete can't make one fail open.
func (s *Source) Prune(ctx context.Context) (PruneResult, error) {
	var res PruneResult
	now := s.clock.Now()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_xact_lock($1)", pruneLockKey).Scan(&res.Locked); err != nil {
			return err
		}
		if !res.Locked {
			return nil
		}
		// Every daemon refuses a denied id until its exp plus its own
		// leeway; keep the row as long as the most lenient of them needs it,
		// for its next snapshot. Without the policy row, keep them all.
		tag, err := tx.Exec(ctx, `DELETE FROM revokd.denials d USING revokd.prune_policy p
			WHERE d.expires_at < $1::timestamptz - greatest(p.keep_denials, $2::interval)`,
			now, s.cfg.Leeway)
		if err != nil {
			return err
		}
		res.Denials = tag.RowsAffected()
		if s.cfg.MaxSessionAge > 0 {
			// A cutoff goes once it is older than the longest maximum session
			// age any daemon declared (and this one's own), by more than the
			// leeway, a margin for the clocks of the other daemons, which
			// judge session age by their own. A NULL policy keeps them all.
			// (greatest skips a NULL, hence the test for it.)
			tag, err := tx.Exec(ctx, `DELETE FROM revokd.cutoffs c USING revokd.prune_policy p
				WHERE p.keep_cutoffs IS NOT NULL
				AND c.before < $1::timestamptz - greatest(p.keep_cutoffs, $2::interval) - $3::interval`,
				now, s.cfg.MaxSessionAge, s.cfg.Leeway)
			if err != nil {
				return err
			}
			res.Cutoffs = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return PruneResult{}, fmt.Errorf("prune: %w", err)
	}
	return res, nil
}

// pruneLoop prunes the replica and the database every PruneInterval, by
// the clock, so a test steps it by moving the clock.
func (s *Source) pruneLoop(ctx context.Context) {
	t, tick := s.clock.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		cutoffs, denials := s.replica.Prune()
		// At least WriteTimeout: a short interval must not starve the prune
		// of a busy database.
		pruneCtx, cancel := context.WithTimeout(ctx, max(s.cfg.PruneInterval, s.cfg.WriteTimeout))
		res, err := s.Prune(pruneCtx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("prune failed", slog.Any("error", err))
			}
			continue
		}
		s.log.Info("pruned",
			slog.Int("replica_cutoffs", cutoffs), slog.Int("replica_denials", denials),
			slog.Bool("held_lock", res.Locked), slog.Int64("db_cutoffs", res.Cutoffs), slog.Int64("db_denials", res.Denials))
	}
}

// declarePolicy records what this daemon needs kept in revokd.prune_policy:
// its maximum session age, of which the table keeps the longest any daemon
// has declared, and none at all (keep every cutoff) once a daemon without
// one has; and its leeway, of which it keeps the largest, as every daemon
// refuses a denied id until exp plus its own leeway.
func (s *Source) declarePolicy(ctx context.Context, conn *pgx.Conn) error {
	var age *time.Duration // NULL: this daemon needs every cutoff
	if s.cfg.MaxSessionAge > 0 {
		age = &s.cfg.MaxSessionAge
	}
	_, err := conn.Exec(ctx, `UPDATE revokd.prune_policy SET
		keep_cutoffs = CASE WHEN keep_cutoffs IS NULL OR $1::interval IS NULL THEN NULL
			ELSE greatest(keep_cutoffs, $1::interval) END,
		keep_denials = greatest(keep_denials, $2::interval)`, age, max(s.cfg.Leeway, 0))
	if err != nil {
		return fmt.Errorf("declare the maximum session age and leeway: %w", err)
	}
	return nil
}
