package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/revokd/revokd/cache"
)

// change is the payload the revokd.notify_* triggers send.
type change struct {
	Kind    string `json:"kind"`  // "cutoff" or "denial"
	Claim   string `json:"claim"` // cutoffs only
	Key     string `json:"key"`   // the cutoff's value or the denial's token id
	Time    int64  `json:"time"`  // before or expires_at, µs since the Unix epoch
	Version int64  `json:"version"`
}

var errBadPayload = errors.New("unreadable revokd notification")

func parseChange(payload string) (change, error) {
	var c change
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return change{}, fmt.Errorf("%w: %w", errBadPayload, err)
	}
	switch {
	case c.Kind != "cutoff" && c.Kind != "denial":
		return change{}, fmt.Errorf("%w: kind %q", errBadPayload, c.Kind)
	case c.Key == "", c.Kind == "cutoff" && c.Claim == "":
		return change{}, fmt.Errorf("%w: empty key", errBadPayload)
	case c.Version <= 0:
		return change{}, fmt.Errorf("%w: version %d", errBadPayload, c.Version)
	}
	return c, nil
}

func (c change) applyTo(r *cache.Replica) bool {
	t := time.UnixMicro(c.Time)
	if c.Kind == "cutoff" {
		return r.ApplyCutoff(cache.Cutoff{Claim: c.Claim, Value: c.Key, Before: t, Version: c.Version})
	}
	return r.ApplyDenial(cache.Denial{ID: c.Key, ExpiresAt: t, Version: c.Version})
}
