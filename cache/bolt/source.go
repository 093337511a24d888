// Package bolt is revokd's embedded revocation store: a single bbolt file
// under the data directory, for one host with one daemon and for the quick
// start. It has the same semantics as the PostgreSQL source: versioned
// cutoffs and denials, revoke-all that only raises, unban that lowers a
// future cutoff to now, and pruning of rows that can no longer reject a
// token.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/revokd/revokd/cache"
)

// ErrLocked means another process (normally another revokd) has the store
// open. bbolt holds an exclusive flock for as long as a file is open.
var ErrLocked = errors.New("store is locked by another process")

// ErrFormat means the file was written in a layout this build does not know.
var ErrFormat = errors.New("unsupported store format")

// Defaults for Config.
const (
	DefaultPruneInterval = time.Minute
	// DefaultLockTimeout is short on purpose: a second daemon on the same
	// data directory should fail at once, not hang.
	DefaultLockTimeout = 200 * time.Millisecond
)

// Config configures a Source. Path and Replica are required.
type Config struct {
	Path    string
	Replica *cache.Replica
	Clock   cache.Clock  // default cache.SystemClock
	Logger  *slog.Logger // default discards: cache.SourceLogger

	// MaxSessionAge, when positive, lets pruning delete cutoffs older than
	// it: every token they could reject fails session_expired anyway. Use
	// the daemon's --max-session-age; raising that setting later cannot
	// bring back cutoffs already pruned.
	MaxSessionAge time.Duration
	// Leeway is the clock skew the daemon allows on exp: the replica's and
	// the pipeline's. A denial stores the token's own exp and is in force
	// until exp plus Leeway, so RevokeToken and pruning count it that far.
	Leeway time.Duration
	// PruneInterval is how often Run prunes, by Clock; default one minute.
	PruneInterval time.Duration
	// LockTimeout is how long Open waits for the file lock.
	LockTimeout time.Duration
}

// Source is the embedded cache.Source.
type Source struct {
	db            *bbolt.DB
	path          string
	replica       *cache.Replica
	clock         cache.Clock
	logger        *slog.Logger
	maxSessionAge time.Duration
	leeway        int64 // microseconds a denial outlives its exp
	pruneInterval time.Duration

	loaded atomic.Bool
	closed atomic.Bool
}

var _ cache.Source = (*Source)(nil)

// Open opens (creating if needed) the store at path with default settings.
func Open(path string, r *cache.Replica, clock cache.Clock, logger *slog.Logger) (*Source, error) {
	return OpenConfig(Config{Path: path, Replica: r, Clock: clock, Logger: logger})
}

// OpenConfig opens (creating if needed) the store described by cfg. It fails
// with an error wrapping ErrLocked, and naming the file, when another process
// holds it.
func OpenConfig(cfg Config) (*Source, error) {
	if cfg.Path == "" {
		return nil, errors.New("open bolt store: empty path")
	}
	if cfg.Replica == nil {
		return nil, errors.New("open bolt store: nil replica")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("open bolt store: leeway %s is negative", cfg.Leeway)
	}
	if cfg.Clock == nil {
		cfg.Clock = cache.SystemClock{}
	}
	cfg.Logger = cache.SourceLogger(cfg.Logger)
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	db, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{Timeout: cfg.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open bolt store %s: %w (is another revokd using this data directory?)", cfg.Path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open bolt store %s: %w", cfg.Path, err)
	}
	if err := db.Update(initialize); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open bolt store %s: %w", cfg.Path, err)
	}
	// A file this process holds open cannot fall out of contact: an answer
	// from its replica is never stale.
	cfg.Replica.StayInTouch()
	return &Source{
		db:            db,
		path:          cfg.Path,
		replica:       cfg.Replica,
		clock:         cfg.Clock,
		logger:        cfg.Logger.With("source", "bolt", "path", cfg.Path),
		maxSessionAge: cfg.MaxSessionAge,
		leeway:        cfg.Leeway.Microseconds(),
		pruneInterval: cfg.PruneInterval,
	}, nil
}

// initialize creates the buckets and records the format version, or checks
// the one already recorded.
func initialize(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketCutoffs, bucketDenials, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := meta.Get(keyFormat); {
	case v == nil:
		if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
			return fmt.Errorf("write format version: %w", err)
		}
	case string(v) != formatVersion:
		return fmt.Errorf("%w: file has format %q, this revokd reads %q", ErrFormat, v, formatVersion)
	}
	return nil
}

// Run loads every stored row into the replica, marks it ready, and then
// prunes on the configured interval until ctx is done. Expired rows loaded
// are harmless (the replica checks expiry against the clock) and go at the
// first prune. The interval and what is expired are both the injected
// clock's, so a test steps the loop by moving it. Run starts no goroutine.
func (s *Source) Run(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	s.loaded.Store(true)
	s.replica.SetReady()
	cutoffs, denials := s.replica.Sizes()
	s.logger.Info("store loaded", "cutoffs", cutoffs, "denials", denials, "data_version", s.replica.Version())

	t, tick := s.clock.NewTicker(s.pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			// A failed prune loses nothing; try again next tick.
			s.logger.Error("prune failed", "err", err)
		}
	}
}

// load applies every stored row to the replica. The replica keeps only
// versions newer than it holds, so loading into a replica that already saw
// some of these changes is harmless, and one that missed some catches up.
func (s *Source) load(ctx context.Context) error {
	err := s.db.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketCutoffs).ForEach(func(k, v []byte) error {
			claim, value, err := splitCutoffKey(k)
			if err != nil {
				return err
			}
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("cutoff %q: %w", k, err)
			}
			s.replica.ApplyCutoff(cache.Cutoff{Claim: claim, Value: value, Before: time.UnixMicro(rec.micros), Version: rec.version})
			return nil
		})
		if err != nil {
			return fmt.Errorf("cutoffs: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err = tx.Bucket(bucketDenials).ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("denial %q: %w", k, err)
			}
			s.replica.ApplyDenial(cache.Denial{ID: string(k), ExpiresAt: time.UnixMicro(rec.micros), Version: rec.version})
			return nil
		})
		if err != nil {
			return fmt.Errorf("denials: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load bolt store %s: %w", s.path, err)
	}
	return nil
}

// Status reports the store as synced once loaded. A local file is always
// current, so LastContact is now.
func (s *Source) Status() cache.SourceStatus {
	st := cache.SourceStatus{Kind: "bolt", State: cache.StateConnecting, LastContact: s.replica.LastContact()}
	switch {
	case s.closed.Load():
		st.State = cache.StateDisconnected
	case s.loaded.Load():
		st.State = cache.StateSynced
	}
	return st
}

// Close closes the file, waiting for any write in progress. Run must have
// returned.
func (s *Source) Close() error {
	s.closed.Store(true)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close bolt store %s: %w", s.path, err)
	}
	return nil
}
