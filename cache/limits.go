package cache

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The limits every store puts on what it keeps, so that a request is
// accepted or refused alike whatever the store. They are the CHECK
// constraints of the PostgreSQL schema; the embedded store applies them in
// Go. Text is valid UTF-8 without NUL, as PostgreSQL's text must be.
const (
	MaxClaimBytes = 64  // a cutoff claim's name
	MaxValueBytes = 512 // a claim's value, or a token id
)

// MinTime and MaxTime bound the times a store keeps: a cutoff, and the end
// of a denial.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ErrTooLong means a claim, value or token id is over its limit. It wraps
// ErrInvalid.
var ErrTooLong = fmt.Errorf("%w: too long", ErrInvalid)

// CheckCutoff reports whether a store can keep a cutoff on (claim, value).
func CheckCutoff(claim, value string) error {
	if err := checkText("claim name", claim, MaxClaimBytes); err != nil {
		return err
	}
	return checkText("claim value", value, MaxValueBytes)
}

// CheckTokenID reports whether a store can keep a denial of id.
func CheckTokenID(id string) error { return checkText("token id", id, MaxValueBytes) }

// CheckTime reports whether a store can keep t, as the named time.
func CheckTime(what string, t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("%w: %s %s is outside %d–%d", ErrInvalid, what, t.UTC().Format(time.RFC3339), MinTime.Year(), MaxTime.Year())
	}
	return nil
}

// ClampExpiry brings a denial's end within what a store keeps. A token
// whose exp lies beyond MaxTime is denied until MaxTime rather than not at
// all.
func ClampExpiry(t time.Time) time.Time {
	if t.After(MaxTime) {
		return MaxTime
	}
	return t
}

func checkText(what, s string, limit int) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	case len(s) > limit:
		return fmt.Errorf("%s of %d bytes, over %d: %w", what, len(s), limit, ErrTooLong)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s contains NUL", ErrInvalid, what)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}
