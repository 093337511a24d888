package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/revokd/revokd/cache"
)

// Writes call the same SQL functions apps call, then read back the row with
// its version in the same implicit transaction (one batch, one round trip),
// so the replica can apply exactly what was committed before the write
// returns, without waiting for the notification.

// RevokeToken denies token id through revokd.revoke_token, which stores the
// token's own exp: every daemon refuses the id until exp plus its own
// leeway. It reports whether a new denial was stored.
func (s *Source) RevokeToken(ctx context.Context, id string, exp time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	var (
		stored bool
		d      = cache.Denial{ID: id}
		found  bool
	)
	b := &pgx.Batch{}
	b.Queue("SELECT revokd.revoke_token($1, $2)", id, exp).QueryRow(func(row pgx.Row) error {
		return row.Scan(&stored)
	})
	b.Queue("SELECT expires_at, version FROM revokd.denials WHERE token_id = $1", id).QueryRow(func(row pgx.Row) error {
		return scanOptional(row, &found, &d.ExpiresAt, &d.Version)
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return false, writeError("revoke token", err)
	}
	if found {
		s.replica.ApplyDenial(d)
	}
	return stored, nil
}

// RevokeAll raises the cutoff for (claim, value) to before through
// revokd.revoke_all, and returns the cutoff in effect afterwards. A zero
// before is sent as NULL: the database's clock_timestamp() when the function
// runs. A before outside the times a store keeps (1970–9999) is ErrInvalid.
func (s *Source) RevokeAll(ctx context.Context, claim, value string, before time.Time) (time.Time, error) {
	var arg *time.Time // NULL: the database's clock_timestamp()
	if !before.IsZero() {
		// Checked here too: a time PostgreSQL cannot hold at all would fail
		// to encode, which is not an outage.
		if err := cache.CheckTime("before", before); err != nil {
			return time.Time{}, fmt.Errorf("revoke all: %w: %w", ErrInvalid, err)
		}
		arg = &before
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue("SELECT revokd.revoke_all($1, $2, $3)", claim, value, arg)
	c, found := s.queueReadCutoff(b, claim, value)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return time.Time{}, writeError("revoke all", err)
	}
	if !*found { // revoke_all always leaves a row, which our transaction holds
		return time.Time{}, fmt.Errorf("revoke all: cutoff (%s, %s) missing after revokd.revoke_all", claim, value)
	}
	s.replica.ApplyCutoff(*c)
	return c.Before, nil
}

// Unban lowers a future cutoff for (claim, value) to the database's
// clock_timestamp() through revokd.unban, and returns the cutoff in effect
// afterwards (zero if none). A claim or value no store could hold is
// ErrInvalid, as in the bolt store, rather than an unban of nothing.
func (s *Source) Unban(ctx context.Context, claim, value string) (time.Time, error) {
	if err := cache.CheckCutoff(claim, value); err != nil {
		return time.Time{}, fmt.Errorf("unban: %w: %w", ErrInvalid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue("SELECT revokd.unban($1, $2)", claim, value)
	c, found := s.queueReadCutoff(b, claim, value)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return time.Time{}, writeError("unban", err)
	}
	if !*found {
		return time.Time{}, nil
	}
	s.replica.ApplyCutoff(*c)
	return c.Before, nil
}

func (s *Source) queueReadCutoff(b *pgx.Batch, claim, value string) (*cache.Cutoff, *bool) {
	c := &cache.Cutoff{Claim: claim, Value: value}
	found := new(bool)
	b.Queue("SELECT before, version FROM revokd.cutoffs WHERE claim = $1 AND value = $2", claim, value).
		QueryRow(func(row pgx.Row) error { return scanOptional(row, found, &c.Before, &c.Version) })
	return c, found
}

// scanOptional scans a row that may not exist.
func scanOptional(row pgx.Row, found *bool, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	*found = err == nil
	return err
}

// writeError classifies a failed write. The database refusing the data is
// ErrInvalid; anything else (no connection, a timeout, a server shutting
// down, a conflict) means the write is not known to be durable, so it is
// cache.ErrUnavailable and nothing is acknowledged.
func writeError(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23") { // data exception, integrity
		return fmt.Errorf("%s: %w: %w", op, ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w: %w", op, cache.ErrUnavailable, err)
}
