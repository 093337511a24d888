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
// denials expired for longer than Leeway and, when MaxSessionAge is set,
// cutoffs older than it by more than Leeway. Only one daemon prunes at a time: the one that
// gets the transaction-scoped advisory lock; the others skip.
//
// Deleting never notifies: replicas forget the same entries by their own
// clocks (cache.Replica.Prune), so a delete can't make one fail open.
func (s *Source) Prune(ctx context.Context) (PruneResult, error) {
	var res PruneResult
	now := s.clock.Now()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", pruneLockKey).Scan(&res.Locked); err != nil {
			return err
		}
		if !res.Locked {
			return nil
		}
		tag, err := tx.Exec(ctx, "DELETE FROM revokd.denials WHERE expires_at < $1", now.Add(-s.cfg.Leeway))
		if err != nil {
			return err
		}
		res.Denials = tag.RowsAffected()
		if s.cfg.MaxSessionAge > 0 {
			// The leeway is a margin for the clocks of the other daemons,
			// which judge session age by their own.
			tag, err := tx.Exec(ctx, "DELETE FROM revokd.cutoffs WHERE before < $1", now.Add(-s.cfg.MaxSessionAge-s.cfg.Leeway))
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

// pruneLoop prunes the replica and the database every PruneInterval.
func (s *Source) pruneLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cutoffs, denials := s.replica.Prune()
		pruneCtx, cancel := context.WithTimeout(ctx, s.cfg.PruneInterval)
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
