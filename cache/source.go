package cache

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrUnavailable means the store could not be reached, so a write was not
// made durable. Callers answer 503 and acknowledge nothing.
var ErrUnavailable = errors.New("revocation store unavailable")

// ErrInvalid means the store refused a write for its content (an id or
// value over the size limit, say). Nothing was written; callers answer 400.
var ErrInvalid = errors.New("invalid revocation")

// SourceLogger is the rule for every source's Config.Logger: the logger
// given, or, when it is nil, one that discards. A source never falls back to
// slog.Default(): the daemon passes its one logger down, and a test or tool
// that passes none asked for quiet.
func SourceLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Source is a store of revocations that keeps a Replica in step with it.
//
// Writes return only after the change is durable, and apply it to the replica
// before returning, so the daemon's very next answer reflects it.
type Source interface {
	// Run loads the store into the replica and follows its changes until ctx
	// is cancelled. It marks the replica ready after the first snapshot.
	Run(ctx context.Context) error

	// RevokeToken denies one token id. exp is the token's own exp, stored
	// as it is: each daemon refuses the id until exp plus its own leeway.
	// It reports whether a new denial was stored: false when the id is
	// already denied, or when exp plus the leeway has passed. An id already
	// denied until earlier is extended to exp all the same (and still
	// reports false), so a denial never ends before the latest exp it was
	// asked to cover.
	RevokeToken(ctx context.Context, id string, exp time.Time) (bool, error)

	// RevokeAll raises the cutoff for (claim, value) to before, never
	// lowering it, and returns the cutoff in effect afterwards. A zero
	// before means now by the store's clock, read when the write is made
	// (PostgreSQL's clock_timestamp(), so SQL callers and the socket share
	// one clock).
	RevokeAll(ctx context.Context, claim, value string, before time.Time) (time.Time, error)

	// Unban lowers a cutoff that lies in the future to now, by the store's
	// clock read when the write is made, and returns the cutoff in effect
	// afterwards (zero when there is none).
	Unban(ctx context.Context, claim, value string) (time.Time, error)

	// Status describes the source's connection to its store.
	Status() SourceStatus

	// Close releases the store. Run must have returned.
	Close() error
}

// Source states.
const (
	StateConnecting   = "connecting"
	StateSynced       = "synced"
	StateDisconnected = "disconnected"
)

// SourceStatus describes how current a source's replica is.
type SourceStatus struct {
	Kind        string    // "bolt" or "postgres"
	State       string    // one of the State constants
	LastContact time.Time // when the source last heard from its store
	Reconnects  int64

	// NotificationsIgnored counts change notifications the source ignored:
	// unusable ones, and ones its store does not back (forged, say). Zero
	// for a source without a change feed.
	NotificationsIgnored int64
}
