package bolt

import (
	"context"
	"fmt"
	"math"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/revokd/revokd/cache"
)

// RevokeToken denies id until expiresAt. It reports true when it stored a
// new denial: false when expiresAt is not after now, or when an unexpired
// denial for id is already stored. A later expiresAt still extends that
// denial, as the PostgreSQL source does: the same id may come again with a
// later exp, and the denial must outlive it. Every write is fsynced before
// RevokeToken returns and is then applied to the replica.
func (s *Source) RevokeToken(ctx context.Context, id string, expiresAt time.Time) (bool, error) {
	if err := cache.CheckTokenID(id); err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	if err := cache.CheckTime("expiry", expiresAt); err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	now := s.clock.Now().UnixMicro()
	exp := expiresAt.UnixMicro()
	if exp <= now {
		return false, nil
	}
	var (
		written record
		isNew   = true
	)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDenials)
		if v := b.Get([]byte(id)); v != nil {
			held, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("denial %q: %w", id, err)
			}
			if held.micros > now {
				isNew = false
				if exp <= held.micros {
					return nil
				}
			}
		}
		version, err := nextVersion(tx)
		if err != nil {
			return err
		}
		written = record{micros: exp, version: version}
		return b.Put([]byte(id), written.encode())
	})
	if err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	if written.version != 0 {
		s.replica.ApplyDenial(cache.Denial{ID: id, ExpiresAt: time.UnixMicro(written.micros), Version: written.version})
	}
	return isNew, nil
}

// RevokeAll raises the cutoff for (claim, value) to before and returns the
// cutoff in effect afterwards: the later of the stored one and before. It
// writes (with a new version) only when it raises the cutoff. before is kept
// to the microsecond, like every time in the store.
func (s *Source) RevokeAll(ctx context.Context, claim, value string, before time.Time) (time.Time, error) {
	if err := cache.CheckCutoff(claim, value); err != nil {
		return time.Time{}, fmt.Errorf("revoke all: %w", err)
	}
	if err := cache.CheckTime("cutoff", before); err != nil {
		return time.Time{}, fmt.Errorf("revoke all: %w", err)
	}
	want := before.UnixMicro()
	key := cutoffKey(claim, value)
	var effective, stored record
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCutoffs)
		held, ok, err := getCutoff(b, key)
		if err != nil {
			return err
		}
		if ok && held.micros >= want {
			effective = held
			return nil
		}
		version, err := nextVersion(tx)
		if err != nil {
			return err
		}
		stored = record{micros: want, version: version}
		effective = stored
		return b.Put(key, stored.encode())
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("revoke all: %w", err)
	}
	if stored.version != 0 {
		s.replica.ApplyCutoff(cache.Cutoff{Claim: claim, Value: value, Before: time.UnixMicro(stored.micros), Version: stored.version})
	}
	return time.UnixMicro(effective.micros), nil
}

// Unban lowers a cutoff that lies in the future (a ban) to now, with a new
// version, and returns the cutoff in effect afterwards; the zero time when
// there is none. A cutoff at or before now is left alone: unban never undoes
// a logout.
func (s *Source) Unban(ctx context.Context, claim, value string) (time.Time, error) {
	if err := cache.CheckCutoff(claim, value); err != nil {
		return time.Time{}, fmt.Errorf("unban: %w", err)
	}
	now := s.clock.Now().UnixMicro()
	key := cutoffKey(claim, value)
	var effective, stored record
	var found bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCutoffs)
		held, ok, err := getCutoff(b, key)
		if err != nil || !ok {
			return err
		}
		found = true
		if held.micros <= now {
			effective = held
			return nil
		}
		version, err := nextVersion(tx)
		if err != nil {
			return err
		}
		stored = record{micros: now, version: version}
		effective = stored
		return b.Put(key, stored.encode())
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("unban: %w", err)
	}
	if !found {
		return time.Time{}, nil
	}
	if stored.version != 0 {
		s.replica.ApplyCutoff(cache.Cutoff{Claim: claim, Value: value, Before: time.UnixMicro(stored.micros), Version: stored.version})
	}
	return time.UnixMicro(effective.micros), nil
}

// update runs fn in a read-write transaction. bbolt fsyncs on commit, so a
// nil error means the change is on disk. Any failure of the store itself is
// reported as cache.ErrUnavailable: nothing was acknowledged.
func (s *Source) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("%w: %s: %w", cache.ErrUnavailable, s.path, err)
	}
	return nil
}

func getCutoff(b *bbolt.Bucket, key []byte) (record, bool, error) {
	v := b.Get(key)
	if v == nil {
		return record{}, false, nil
	}
	rec, err := decodeRecord(v)
	if err != nil {
		return record{}, false, fmt.Errorf("cutoff %q: %w", key, err)
	}
	return rec, true, nil
}

// nextVersion takes the next number from the store's one sequence, so every
// change, to either bucket, gets a version newer than all before it.
func nextVersion(tx *bbolt.Tx) (int64, error) {
	v, err := tx.Bucket(bucketMeta).NextSequence()
	if err != nil {
		return 0, fmt.Errorf("next version: %w", err)
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("next version: sequence exhausted")
	}
	return int64(v), nil
}
