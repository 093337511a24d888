package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/cache"
)

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's timestamp epoch, in Unix µs.
const pgEpochMicros = 946_684_800_000_000

// binaryResults asks for every column in binary: text is its bytes,
// timestamptz and bigint are 8 big-endian bytes, so rows are decoded
// without parsing or allocating, whatever pgx would otherwise pick.
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode}

// loadSnapshot reads every active cutoff and denial and makes them the
// replica's whole state (cache.Load), and returns how many rows it read.
// Nothing the tables do not hold survives: not an entry a restored database
// lost, whatever the versions. Writes this daemon applies to the replica
// while the rows are read are kept (the load merges them in by version).
//
// Rows are read one at a time from the connection's buffer; the only
// allocation per row is the string the replica keeps as its key. Rows that
// can no longer reject anything by the clock (denials whose exp plus the
// leeway has passed, cutoffs older than MaxSessionAge) are skipped, as the
// replica would prune them.
func (s *Source) loadSnapshot(ctx context.Context, conn *pgx.Conn) (int, error) {
	now := s.clock.Now()
	var n int
	// A load that fails is dropped, and the replica keeps what it held
	// until the next session loads another.
	l := s.replica.BeginLoad()
	defer s.replica.EndLoad(l)

	cutoffSQL := "SELECT claim, value, before, version FROM revokd.cutoffs"
	args := []any{binaryResults}
	if s.cfg.MaxSessionAge > 0 {
		cutoffSQL += " WHERE before >= $1"
		args = append(args, now.Add(-s.cfg.MaxSessionAge))
	}
	rows, err := conn.Query(ctx, cutoffSQL, args...)
	if err != nil {
		return n, fmt.Errorf("cutoffs: %w", err)
	}
	claims := map[string]string{} // few distinct claim names; no string per row for them
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 4 || len(v[2]) != 8 || len(v[3]) != 8 {
			rows.Close()
			return n, fmt.Errorf("cutoffs: unexpected row shape")
		}
		claim, ok := claims[string(v[0])]
		if !ok {
			claim = string(v[0])
			claims[claim] = claim
		}
		l.AddCutoff(cache.Cutoff{
			Claim:   claim,
			Value:   string(v[1]),
			Before:  pgTime(v[2]),
			Version: int64(binary.BigEndian.Uint64(v[3])),
		})
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("cutoffs: %w", err)
	}

	rows, err = conn.Query(ctx,
		"SELECT token_id, expires_at, version FROM revokd.denials WHERE expires_at > $1",
		binaryResults[:3], now.Add(-s.cfg.Leeway)) // the replica refuses an id until exp plus its leeway
	if err != nil {
		return n, fmt.Errorf("denials: %w", err)
	}
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 3 || len(v[1]) != 8 || len(v[2]) != 8 {
			rows.Close()
			return n, fmt.Errorf("denials: unexpected row shape")
		}
		l.AddDenial(cache.Denial{
			ID:        string(v[0]),
			ExpiresAt: pgTime(v[1]),
			Version:   int64(binary.BigEndian.Uint64(v[2])),
		})
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("denials: %w", err)
	}
	s.replica.Replace(l)
	return n, nil
}

// pgTime decodes a binary timestamptz.
func pgTime(b []byte) time.Time {
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b)) + pgEpochMicros)
}
