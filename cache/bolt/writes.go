package bolt

import (
	"context"
	"fmt"
	"math"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/revokd/revokd/cache"
)

// RevokeToken denies id until its token's exp: the store keeps exp as it is,
// and the replica refuses the id until exp plus its leeway. It reports true
// when it stored a new denial: false when exp plus the leeway has passed, or
// when a denial for id is already in force. A later exp still extends that
// denial, as the PostgreSQL source does: the same id may come again with a
// later exp, and the denial must outlive it. The clock is read inside the
// write transaction, under the store's lock, so "in force" means the same
// thing for every writer. Every write is fsynced before RevokeToken returns,
// and the replica then holds the denial in force, written now or before.
func (s *Source) RevokeToken(ctx context.Context, id string, exp time.Time) (bool, error) {
	if err := cache.CheckTokenID(id); err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	if err := cache.CheckTime("expiry", exp); err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	want := exp.UnixMicro()
	var (
		effective record // the denial in force afterwards; version 0: none
		isNew     bool
	)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		effective, isNew = record{}, false
		now := s.clock.Now().UnixMicro()
		b := tx.Bucket(bucketDenials)
		var held record
		inForce := false
		if v := b.Get([]byte(id)); v != nil {
			var err error
			if held, err = decodeRecord(v); err != nil {
				return fmt.Errorf("denial %q: %w", id, err)
			}
			inForce = now-s.leeway < held.micros
		}
		if inForce && want <= held.micros {
			effective = held
			return nil
		}
		if !inForce && want <= now-s.leeway {
			// Expired with its leeway: nothing to deny. A stale row left
			// for pruning stays as it is.
			return nil
		}
		version, err := nextVersion(tx)
		if err != nil {
			return err
		}
		effective, isNew = record{micros: want, version: version}, !inForce
		return b.Put([]byte(id), effective.encode())
	})
	if err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	if effective.version != 0 {
		// Applied whether this call wrote it or found it: a denial another
		// writer committed may not have reached the replica yet, and it must
		// be there before this call acknowledges anything.
		s.replica.ApplyDenial(cache.Denial{ID: id, ExpiresAt: time.UnixMicro(effective.micros), Version: effective.version})
	}
	return isNew, nil
}

// RevokeAll raises the cutoff for (claim, value) to before and returns the
// cutoff in effect afterwards: the later of the stored one and before. A
// zero before means now, by the clock read inside the write transaction,
// under the store's lock. before is kept to the microsecond, like every time
// in the store.
func (s *Source) RevokeAll(ctx context.Context, claim, value string, before time.Time) (time.Time, error) {
	if !before.IsZero() {
		if err := cache.CheckTime("cutoff", before); err != nil {
			return time.Time{}, fmt.Errorf("revoke all: %w", err)
		}
	}
	at, err := s.writeCutoff(ctx, claim, value, func(held record, ok bool, now int64) (int64, bool) {
		want := now
		if !before.IsZero() {
			want = before.UnixMicro()
		}
		return want, !ok || held.micros < want
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("revoke all: %w", err)
	}
	return at, nil
}

// Unban lowers a cutoff that lies in the future (a ban) to now and returns
// the cutoff in effect afterwards; the zero time when there is none. A
// cutoff at or before now is left alone: unban never undoes a logout.
func (s *Source) Unban(ctx context.Context, claim, value string) (time.Time, error) {
	at, err := s.writeCutoff(ctx, claim, value, func(held record, ok bool, now int64) (int64, bool) {
		return now, ok && held.micros > now
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("unban: %w", err)
	}
	return at, nil
}

// writeCutoff is RevokeAll's and Unban's one read, compare and write. Inside
// a write transaction, under the store's lock, it reads the cutoff held on
// (claim, value) (ok false when there is none) and now from the clock, and
// asks next for the cutoff wanted and whether to write it. It writes with a
// new version only then, and returns the cutoff in effect afterwards (zero
// when there is none), which the replica holds before it returns, whether
// this call wrote it or another writer did.
func (s *Source) writeCutoff(ctx context.Context, claim, value string, next func(held record, ok bool, now int64) (int64, bool)) (time.Time, error) {
	if err := cache.CheckCutoff(claim, value); err != nil {
		return time.Time{}, err
	}
	key := cutoffKey(claim, value)
	var effective record // version 0: none
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		effective = record{}
		b := tx.Bucket(bucketCutoffs)
		held, ok, err := getCutoff(b, key)
		if err != nil {
			return err
		}
		want, write := next(held, ok, s.clock.Now().UnixMicro())
		if !write {
			if ok {
				effective = held
			}
			return nil
		}
		version, err := nextVersion(tx)
		if err != nil {
			return err
		}
		effective = record{micros: want, version: version}
		return b.Put(key, effective.encode())
	})
	if err != nil || effective.version == 0 {
		return time.Time{}, err
	}
	s.applyCutoff(claim, value, effective)
	return time.UnixMicro(effective.micros), nil
}

// applyCutoff applies the cutoff a write found in effect, written by this
// call or by another. Another writer's commit may not have reached the
// replica yet; applying it here too (the replica keeps the newer version of
// the two) makes the replica hold it before this call acknowledges it.
func (s *Source) applyCutoff(claim, value string, rec record) {
	s.replica.ApplyCutoff(cache.Cutoff{Claim: claim, Value: value, Before: time.UnixMicro(rec.micros), Version: rec.version})
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
