// Package sourcetest is the one conformance suite for cache.Source: bolt,
// PostgreSQL and the daemon tests' in-memory fake all run it, so the
// contract in cache/source.go is checked once and the three cannot drift.
package sourcetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
)

// NewSource returns a fresh, empty source, the replica it keeps and the
// clock that replica reads. The source must accept writes when it is
// returned (a source that needs Run is running, and stops at the test's
// cleanup).
//
// A store may read its own clock for "now" (PostgreSQL's clock_timestamp()):
// it must then be within skew of the returned clock. The suite never moves
// the clock; it places every time it writes days away from now, so each
// check holds whichever of the two clocks the store reads.
type NewSource func(t *testing.T) (cache.Source, *cache.Replica, *clocktest.Clock)

// skew is how far a store's own clock may be from the one NewSource returns.
const skew = time.Hour

// day is how far from now the suite's times lie: beyond any leeway and skew.
const day = 24 * time.Hour

// Run runs the suite, each case on a fresh source from newSource.
func Run(t *testing.T, newSource NewSource) {
	tests := []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"RevokeToken stores a new denial", revokeNew},
		{"RevokeToken of a denied id stores nothing", revokeRepeated},
		{"RevokeToken with a later exp extends the denial", revokeExtended},
		{"RevokeToken after exp plus leeway stores nothing", revokeExpired},
		{"RevokeAll with no before takes the store's now", revokeAllNow},
		{"RevokeAll only raises", revokeAllRaises},
		{"RevokeAll in the future is a ban", revokeAllBan},
		{"Unban with no cutoff answers zero", unbanNone},
		{"Unban lowers a ban to now", unbanBan},
		{"Unban leaves a past cutoff", unbanPast},
		{"invalid input is ErrInvalid", invalid},
		{"Status names the source and its state", status},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, r, clock := newSource(t)
			tc.run(t, &env{src: src, r: r, now: clock.Now().Truncate(time.Microsecond)})
		})
	}
}

// env is one case's source; now is the clock's reading when it began. Times
// are whole microseconds, the precision every store keeps.
type env struct {
	src cache.Source
	r   *cache.Replica
	now time.Time
}

var ctx = context.Background()

func (e *env) revokeToken(t *testing.T, id string, exp time.Time, want bool) {
	t.Helper()
	got, err := e.src.RevokeToken(ctx, id, exp)
	if err != nil {
		t.Fatalf("RevokeToken(%q, %v): %v", id, exp, err)
	}
	if got != want {
		t.Errorf("RevokeToken(%q, %v) stored = %t, want %t", id, exp, got, want)
	}
}

// wantDenied checks the replica holds a denial of id until exp (zero: none).
func (e *env) wantDenied(t *testing.T, id string, exp time.Time) {
	t.Helper()
	_, ds := e.r.Snapshot()
	var got time.Time
	for _, d := range ds {
		if d.ID == id {
			got = d.ExpiresAt
		}
	}
	if !got.Equal(exp) {
		t.Errorf("replica denies %q until %v, want %v (zero: not at all)", id, got, exp)
	}
	if denied := e.r.Denied(id); denied != !exp.IsZero() {
		t.Errorf("replica.Denied(%q) = %t, want %t", id, denied, !exp.IsZero())
	}
}

func (e *env) revokeAll(t *testing.T, value string, before, want time.Time) time.Time {
	t.Helper()
	got, err := e.src.RevokeAll(ctx, "sub", value, before)
	if err != nil {
		t.Fatalf("RevokeAll(sub, %q, %v): %v", value, before, err)
	}
	if !want.IsZero() && !got.Equal(want) {
		t.Errorf("RevokeAll(sub, %q, %v) = %v, want %v", value, before, got, want)
	}
	e.wantCutoff(t, value, got)
	return got
}

// wantCutoff checks the replica holds the cutoff on (sub, value) at before
// (zero: none).
func (e *env) wantCutoff(t *testing.T, value string, before time.Time) {
	t.Helper()
	got, ok := e.r.Cutoff("sub", value)
	if ok != !before.IsZero() || !got.Equal(before) {
		t.Errorf("replica cutoff on sub %q = %v, %t; want %v (zero: none)", value, got, ok, before)
	}
}

func (e *env) unban(t *testing.T, value string) time.Time {
	t.Helper()
	got, err := e.src.Unban(ctx, "sub", value)
	if err != nil {
		t.Fatalf("Unban(sub, %q): %v", value, err)
	}
	e.wantCutoff(t, value, got)
	return got
}

// wantNow checks got is the store's now: within skew of the case's start.
func (e *env) wantNow(t *testing.T, what string, got time.Time) {
	t.Helper()
	if got.Before(e.now.Add(-skew)) || got.After(e.now.Add(skew)) {
		t.Errorf("%s = %v, want the store's now (%v, within %v)", what, got, e.now, skew)
	}
}

func revokeNew(t *testing.T, e *env) {
	exp := e.now.Add(day)
	e.revokeToken(t, "jti-1", exp, true)
	e.wantDenied(t, "jti-1", exp)
}

func revokeRepeated(t *testing.T, e *env) {
	exp := e.now.Add(day)
	e.revokeToken(t, "jti-1", exp, true)
	e.revokeToken(t, "jti-1", exp, false)
	e.revokeToken(t, "jti-1", exp.Add(-time.Hour), false) // an earlier exp changes nothing
	e.wantDenied(t, "jti-1", exp)
}

func revokeExtended(t *testing.T, e *env) {
	exp := e.now.Add(day)
	e.revokeToken(t, "jti-1", exp, true)
	later := exp.Add(day + time.Microsecond)
	e.revokeToken(t, "jti-1", later, false) // extended, but not a new denial
	e.wantDenied(t, "jti-1", later)
}

func revokeExpired(t *testing.T, e *env) {
	e.revokeToken(t, "jti-old", e.now.Add(-day), false)
	e.wantDenied(t, "jti-old", time.Time{})
}

func revokeAllNow(t *testing.T, e *env) {
	got := e.revokeAll(t, "alice", time.Time{}, time.Time{})
	e.wantNow(t, "RevokeAll with no before", got)
	// A later call with no before never lowers it.
	if again := e.revokeAll(t, "alice", time.Time{}, time.Time{}); again.Before(got) {
		t.Errorf("second RevokeAll with no before = %v, before the first %v", again, got)
	}
}

func revokeAllRaises(t *testing.T, e *env) {
	past := e.now.Add(-2 * day)
	e.revokeAll(t, "alice", past, past)
	e.revokeAll(t, "alice", past.Add(-day), past) // lower: the cutoff in force stays
	raised := past.Add(day + time.Microsecond)
	e.revokeAll(t, "alice", raised, raised)
	e.revokeAll(t, "bob", past, past) // another value is its own cutoff
	e.wantCutoff(t, "alice", raised)
}

func revokeAllBan(t *testing.T, e *env) {
	ban := e.now.Add(day)
	e.revokeAll(t, "alice", ban, ban)
	e.revokeAll(t, "alice", time.Time{}, ban) // now is below the ban
}

func unbanNone(t *testing.T, e *env) {
	if got := e.unban(t, "nobody"); !got.IsZero() {
		t.Errorf("Unban with no cutoff = %v, want zero", got)
	}
}

func unbanBan(t *testing.T, e *env) {
	ban := e.now.Add(day)
	e.revokeAll(t, "alice", ban, ban)
	got := e.unban(t, "alice")
	e.wantNow(t, "Unban of a ban", got)
	if !got.Before(ban) {
		t.Errorf("Unban = %v, want it below the ban %v", got, ban)
	}
	if again := e.unban(t, "alice"); !again.Equal(got) {
		t.Errorf("second Unban = %v, want %v unchanged: it is no longer in the future", again, got)
	}
}

func unbanPast(t *testing.T, e *env) {
	past := e.now.Add(-day)
	e.revokeAll(t, "alice", past, past)
	if got := e.unban(t, "alice"); !got.Equal(past) {
		t.Errorf("Unban of a past cutoff = %v, want %v: unban never undoes a logout", got, past)
	}
}

func invalid(t *testing.T, e *env) {
	long := strings.Repeat("x", cache.MaxValueBytes+1)
	exp := e.now.Add(day)
	beyond := cache.MaxTime.Add(day)
	tests := []struct {
		name string
		do   func() error
	}{
		{"empty token id", func() error { _, err := e.src.RevokeToken(ctx, "", exp); return err }},
		{"token id too long", func() error { _, err := e.src.RevokeToken(ctx, long, exp); return err }},
		{"token id not UTF-8", func() error { _, err := e.src.RevokeToken(ctx, "\xff", exp); return err }},
		{"exp beyond the times a store keeps", func() error { _, err := e.src.RevokeToken(ctx, "jti", beyond); return err }},
		{"empty claim", func() error { _, err := e.src.RevokeAll(ctx, "", "v", time.Time{}); return err }},
		{"value too long", func() error { _, err := e.src.RevokeAll(ctx, "sub", long, time.Time{}); return err }},
		{"before beyond the times a store keeps", func() error { _, err := e.src.RevokeAll(ctx, "sub", "v", beyond); return err }},
		{"unban of an empty value", func() error { _, err := e.src.Unban(ctx, "sub", ""); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if !errors.Is(err, cache.ErrInvalid) || errors.Is(err, cache.ErrUnavailable) {
				t.Errorf("error = %v, want cache.ErrInvalid and not cache.ErrUnavailable", err)
			}
		})
	}
	if cs, ds := e.r.Sizes(); cs != 0 || ds != 0 {
		t.Errorf("replica holds %d cutoffs, %d denials after invalid writes; want none", cs, ds)
	}
}

func status(t *testing.T, e *env) {
	st := e.src.Status()
	if st.Kind == "" {
		t.Error("Status().Kind is empty")
	}
	switch st.State {
	case cache.StateConnecting, cache.StateSynced, cache.StateDisconnected:
	default:
		t.Errorf("Status().State = %q, want one of the cache.State constants", st.State)
	}
}
