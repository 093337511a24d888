package postgres

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/revokd/revokd/cache"
)

// change is what a notification from the revokd.notify_* triggers names: the
// row that changed. It is a hint, never data: PostgreSQL checks no privilege
// on NOTIFY, so anyone who can connect can send one. The feed reads the row
// it names from the tables (which need grants) and applies what it reads.
//
// The payload's time is never read. Its version is never applied either; it
// only tells a notification the tables back (the row holds that version or a
// later one) from one they do not (no such row, or an earlier version), which
// the feed counts as ignored.
type change struct {
	Kind    string `json:"kind"`  // "cutoff" or "denial"
	Claim   string `json:"claim"` // cutoffs only
	Key     string `json:"key"`   // the cutoff's value or the denial's token id
	Version int64  `json:"version"`
}

var errBadPayload = errors.New("unusable revokd notification")

// parseChange reads a payload and checks its key against the limits the
// store puts on writes, so a notification the tables could not back costs
// no read.
func parseChange(payload string) (change, error) {
	var c change
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return change{}, fmt.Errorf("%w: %w", errBadPayload, err)
	}
	var err error
	switch c.Kind {
	case "cutoff":
		err = cache.CheckCutoff(c.Claim, c.Key)
	case "denial":
		err = cache.CheckTokenID(c.Key)
	default:
		return change{}, fmt.Errorf("%w: kind %q", errBadPayload, c.Kind)
	}
	switch {
	case err != nil:
		return change{}, fmt.Errorf("%w: %w", errBadPayload, err)
	case c.Version <= 0:
		return change{}, fmt.Errorf("%w: version %d", errBadPayload, c.Version)
	}
	if c.Kind == "denial" {
		c.Claim = ""
	}
	return c, nil
}
