package bolt

import (
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// pruneBatch bounds how many keys one prune transaction visits, so a large
// prune never holds the write lock long enough to delay a revocation.
const pruneBatch = 4096

// Prune deletes the rows that can no longer reject a token: denials whose
// exp plus the leeway is not after now and, when MaxSessionAge is set, cutoffs older than
// now − MaxSessionAge (any token they could reject fails session_expired).
// It then prunes the replica by the same rules and returns how many rows it
// deleted from the store.
func (s *Source) Prune(ctx context.Context) (int, error) {
	now := s.clock.Now()
	nowMicros := now.UnixMicro()
	expired := nowMicros - s.leeway // a denial is in force until exp + leeway
	n, err := s.pruneBucket(ctx, bucketDenials, func(r record) bool { return r.micros <= expired })
	if err != nil {
		return n, fmt.Errorf("prune denials: %w", err)
	}
	if s.maxSessionAge > 0 {
		oldest := now.Add(-s.maxSessionAge).UnixMicro()
		c, err := s.pruneBucket(ctx, bucketCutoffs, func(r record) bool { return r.micros < oldest })
		n += c
		if err != nil {
			return n, fmt.Errorf("prune cutoffs: %w", err)
		}
	}
	replicaCutoffs, replicaDenials := s.replica.Prune()
	if n > 0 || replicaCutoffs > 0 || replicaDenials > 0 {
		s.logger.Debug("pruned", "store_rows", n, "replica_cutoffs", replicaCutoffs, "replica_denials", replicaDenials)
	}
	return n, nil
}

// pruneBucket deletes every row of bucket for which drop is true, in
// transactions of at most pruneBatch keys each, resuming after the last key
// visited. Keys are collected before deletion because deleting under a bbolt
// cursor can skip the next key.
func (s *Source) pruneBucket(ctx context.Context, bucket []byte, drop func(record) bool) (int, error) {
	deleted := 0
	var from []byte // nil: start at the first key
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		var next []byte
		var dropped int
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucket)
			c := b.Cursor()
			var doomed [][]byte
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for visited := 0; k != nil; k, v = c.Next() {
				if visited == pruneBatch {
					next = append([]byte(nil), k...)
					break
				}
				visited++
				rec, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				if drop(rec) {
					doomed = append(doomed, append([]byte(nil), k...))
				}
			}
			for _, k := range doomed {
				if err := b.Delete(k); err != nil {
					return fmt.Errorf("delete %q: %w", k, err)
				}
			}
			dropped = len(doomed)
			return nil
		})
		if err != nil {
			return deleted, err
		}
		deleted += dropped
		if next == nil {
			return deleted, nil
		}
		from = next
	}
}
