package bolt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

func TestRevokeToken(t *testing.T) {
	type denial struct {
		id  string
		exp time.Time
	}
	tests := []struct {
		name       string
		prior      []denial      // stored at t0
		advance    time.Duration // clock moves after prior, before the call
		id         string
		exp        time.Time
		wantStored bool
		wantDenied bool
		wantRow    time.Time // expiry stored afterwards; zero: no row
		extends    bool      // a write with a new version, though not a new denial
	}{
		{name: "new denial is stored", id: "a", exp: t0.Add(time.Hour),
			wantStored: true, wantDenied: true, wantRow: t0.Add(time.Hour)},
		{name: "already denied: a later exp extends it, not new", prior: []denial{{"a", t0.Add(time.Hour)}}, id: "a", exp: t0.Add(2 * time.Hour),
			wantStored: false, wantDenied: true, wantRow: t0.Add(2 * time.Hour), extends: true},
		{name: "already denied: an earlier exp changes nothing", prior: []denial{{"a", t0.Add(2 * time.Hour)}}, id: "a", exp: t0.Add(time.Hour),
			wantStored: false, wantDenied: true, wantRow: t0.Add(2 * time.Hour)},
		{name: "expires now", id: "a", exp: t0, wantStored: false},
		{name: "already expired", id: "a", exp: t0.Add(-time.Second), wantStored: false},
		{name: "expires later in the same microsecond", id: "a", exp: t0.Add(500 * time.Nanosecond), wantStored: false},
		{name: "expires one microsecond from now", id: "a", exp: t0.Add(time.Microsecond),
			wantStored: true, wantDenied: true, wantRow: t0.Add(time.Microsecond)},
		{name: "earlier denial has expired", prior: []denial{{"a", t0.Add(time.Minute)}}, advance: 2 * time.Minute,
			id: "a", exp: t0.Add(time.Hour), wantStored: true, wantDenied: true, wantRow: t0.Add(time.Hour)},
		{name: "other id denied", prior: []denial{{"b", t0.Add(time.Hour)}}, id: "a", exp: t0.Add(time.Hour),
			wantStored: true, wantDenied: true, wantRow: t0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for _, d := range tc.prior {
				if !mustRevokeToken(t, f.src, d.id, d.exp) {
					t.Fatalf("prior RevokeToken(%q) stored nothing", d.id)
				}
			}
			f.clock.Add(tc.advance)
			versionBefore := f.replica.Version()

			if got := mustRevokeToken(t, f.src, tc.id, tc.exp); got != tc.wantStored {
				t.Errorf("stored = %v, want %v", got, tc.wantStored)
			}
			if got := f.replica.Denied(tc.id); got != tc.wantDenied {
				t.Errorf("replica Denied(%q) = %v, want %v", tc.id, got, tc.wantDenied)
			}
			_, denials := rows(t, f.src)
			row, ok := denials[tc.id]
			switch {
			case tc.wantRow.IsZero() && ok:
				t.Errorf("row for %q = %+v, want none", tc.id, row)
			case !tc.wantRow.IsZero() && (!ok || row.micros != tc.wantRow.UnixMicro()):
				t.Errorf("row for %q = %+v (present %v), want expiry %d", tc.id, row, ok, tc.wantRow.UnixMicro())
			}
			gotVersion := f.replica.Version()
			wrote := tc.wantStored || tc.extends
			if wrote && (gotVersion <= versionBefore || row.version != gotVersion) {
				t.Errorf("version after the write = %d (row %d), want a new one above %d", gotVersion, row.version, versionBefore)
			}
			if !wrote && gotVersion != versionBefore {
				t.Errorf("version = %d after storing nothing, want %d", gotVersion, versionBefore)
			}
		})
	}
}

// TestRevokeTokenExtendedDenialOutlivesTheFirst is the fault the extension
// exists for: a denial revoked again with a later exp must still hold after
// the first exp, in the replica and in the store.
func TestRevokeTokenExtendedDenialOutlivesTheFirst(t *testing.T) {
	f := newFixture(t)
	mustRevokeToken(t, f.src, "jti-1", t0.Add(time.Hour))
	mustRevokeToken(t, f.src, "jti-1", t0.Add(2*time.Hour))
	f.clock.Set(t0.Add(90 * time.Minute))
	if !f.replica.Denied("jti-1") {
		t.Fatal("past the first exp, the extended denial is gone from the replica")
	}
	f.replica.Prune()
	if !f.replica.Denied("jti-1") {
		t.Fatal("the extended denial was pruned at the first exp")
	}
	_, denials := rows(t, f.src)
	if got := denials["jti-1"].micros; got != t0.Add(2*time.Hour).UnixMicro() {
		t.Errorf("stored expiry = %d, want %d", got, t0.Add(2*time.Hour).UnixMicro())
	}
}

func TestRevokeAllOnlyRaises(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		name          string
		before        time.Time
		wantEffective time.Time
		wantWrite     bool
	}{
		{"first cutoff", t0, t0, true},
		{"earlier is ignored", t0.Add(-time.Hour), t0, false},
		{"same is ignored", t0, t0, false},
		{"one microsecond later raises", t0.Add(time.Microsecond), t0.Add(time.Microsecond), true},
		{"nanoseconds are dropped, so not later", t0.Add(time.Microsecond + 999*time.Nanosecond), t0.Add(time.Microsecond), false},
		{"later raises", t0.Add(time.Hour), t0.Add(time.Hour), true},
		{"back to the first is ignored", t0, t0.Add(time.Hour), false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			versionBefore := f.replica.Version()
			got := mustRevokeAll(t, f.src, "sub", "42", st.before)
			if !got.Equal(st.wantEffective) {
				t.Errorf("effective = %v, want %v", got, st.wantEffective)
			}
			if held, ok := f.replica.Cutoff("sub", "42"); !ok || !held.Equal(st.wantEffective) {
				t.Errorf("replica cutoff = %v (present %v), want %v", held, ok, st.wantEffective)
			}
			cutoffs, _ := rows(t, f.src)
			if row := cutoffs["sub\x0042"]; row.micros != st.wantEffective.UnixMicro() {
				t.Errorf("stored cutoff = %d, want %d", row.micros, st.wantEffective.UnixMicro())
			}
			if wrote := f.replica.Version() != versionBefore; wrote != st.wantWrite {
				t.Errorf("wrote a new version = %v (version %d -> %d), want %v", wrote, versionBefore, f.replica.Version(), st.wantWrite)
			}
		})
	}
	if got, ok := f.replica.Cutoff("sid", "42"); ok {
		t.Errorf("cutoff on another claim with the same value = %v, want none", got)
	}
}

func TestBanAndUnban(t *testing.T) {
	tests := []struct {
		name      string
		cutoff    time.Time // stored first; zero: none
		wantAfter time.Time // effective cutoff after unban
		wantWrite bool
	}{
		{name: "ban is lowered to now", cutoff: t0.Add(24 * time.Hour), wantAfter: t0, wantWrite: true},
		{name: "ban ending one microsecond from now is lowered", cutoff: t0.Add(time.Microsecond), wantAfter: t0, wantWrite: true},
		{name: "past cutoff is kept", cutoff: t0.Add(-time.Hour), wantAfter: t0.Add(-time.Hour)},
		{name: "cutoff at now is kept", cutoff: t0, wantAfter: t0},
		{name: "no cutoff", wantAfter: time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if !tc.cutoff.IsZero() {
				mustRevokeAll(t, f.src, "sub", "7", tc.cutoff)
			}
			versionBefore := f.replica.Version()
			got := mustUnban(t, f.src, "sub", "7")
			if !got.Equal(tc.wantAfter) {
				t.Errorf("Unban = %v, want %v", got, tc.wantAfter)
			}
			held, ok := f.replica.Cutoff("sub", "7")
			if ok != !tc.wantAfter.IsZero() || (ok && !held.Equal(tc.wantAfter)) {
				t.Errorf("replica cutoff = %v (present %v), want %v", held, ok, tc.wantAfter)
			}
			if wrote := f.replica.Version() != versionBefore; wrote != tc.wantWrite {
				t.Errorf("wrote a new version = %v, want %v", wrote, tc.wantWrite)
			}
			// A second unban changes nothing: the cutoff is no longer in the future.
			versionBefore = f.replica.Version()
			if again := mustUnban(t, f.src, "sub", "7"); !again.Equal(tc.wantAfter) {
				t.Errorf("second Unban = %v, want %v", again, tc.wantAfter)
			}
			if f.replica.Version() != versionBefore {
				t.Errorf("second Unban wrote version %d, want none", f.replica.Version())
			}
		})
	}
}

// TestBanRaisedAgainAfterUnban checks that revoke-all still raises a cutoff
// that unban lowered.
func TestBanRaisedAgainAfterUnban(t *testing.T) {
	f := newFixture(t)
	mustRevokeAll(t, f.src, "sub", "7", t0.Add(time.Hour))
	mustUnban(t, f.src, "sub", "7")
	f.clock.Add(time.Minute)
	if got, want := mustRevokeAll(t, f.src, "sub", "7", t0.Add(time.Minute)), t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("RevokeAll after unban = %v, want %v", got, want)
	}
}

func TestVersionsIncrease(t *testing.T) {
	f := newFixture(t)
	ops := []struct {
		name string
		do   func() error
	}{
		{"revoke token", func() error { _, err := f.src.RevokeToken(context.Background(), "t1", t0.Add(time.Hour)); return err }},
		{"revoke all", func() error { _, err := f.src.RevokeAll(context.Background(), "sub", "1", t0); return err }},
		{"revoke another token", func() error { _, err := f.src.RevokeToken(context.Background(), "t2", t0.Add(time.Hour)); return err }},
		{"ban", func() error {
			_, err := f.src.RevokeAll(context.Background(), "sub", "1", t0.Add(time.Hour))
			return err
		}},
		{"unban", func() error { _, err := f.src.Unban(context.Background(), "sub", "1"); return err }},
		{"revoke all on sid", func() error { _, err := f.src.RevokeAll(context.Background(), "sid", "s", t0); return err }},
	}
	seen := map[int64]string{}
	last := f.replica.Version()
	for _, op := range ops {
		if err := op.do(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		v := f.replica.Version()
		if v <= last {
			t.Errorf("%s: version %d, want above %d", op.name, v, last)
		}
		if prev, dup := seen[v]; dup {
			t.Errorf("%s: version %d already used by %s", op.name, v, prev)
		}
		seen[v] = op.name
		last = v
	}
	cutoffs, denials := f.replica.Snapshot()
	want := map[string]int64{"sub/1": 5, "sid/s": 6, "t1": 1, "t2": 3}
	got := map[string]int64{}
	for _, c := range cutoffs {
		got[c.Claim+"/"+c.Value] = c.Version
	}
	for _, d := range denials {
		got[d.ID] = d.Version
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("version of %s = %d, want %d", k, got[k], w)
		}
	}
}

func TestInvalidInputChangesNothing(t *testing.T) {
	long := strings.Repeat("x", cache.MaxValueBytes+1)
	max := strings.Repeat("é", cache.MaxValueBytes/2) // 512 bytes of UTF-8
	ctx := context.Background()
	exp := t0.Add(time.Hour)
	tests := []struct {
		name    string
		call    func(s *Source) error
		wantErr error // nil: accepted
	}{
		{"id too long", func(s *Source) error { _, err := s.RevokeToken(ctx, long, exp); return err }, cache.ErrTooLong},
		{"id at the limit", func(s *Source) error { _, err := s.RevokeToken(ctx, max, exp); return err }, nil},
		{"empty id", func(s *Source) error { _, err := s.RevokeToken(ctx, "", exp); return err }, cache.ErrInvalid},
		{"id not UTF-8", func(s *Source) error { _, err := s.RevokeToken(ctx, "\xff", exp); return err }, cache.ErrInvalid},
		{"expiry past 9999", func(s *Source) error {
			_, err := s.RevokeToken(ctx, "a", cache.MaxTime.Add(time.Second))
			return err
		}, cache.ErrInvalid},
		{"claim too long", func(s *Source) error {
			_, err := s.RevokeAll(ctx, strings.Repeat("c", cache.MaxClaimBytes+1), "v", t0)
			return err
		}, cache.ErrTooLong},
		{"value too long", func(s *Source) error { _, err := s.RevokeAll(ctx, "sub", long, t0); return err }, cache.ErrTooLong},
		{"value at the limit", func(s *Source) error { _, err := s.RevokeAll(ctx, "sub", max, t0); return err }, nil},
		{"empty value", func(s *Source) error { _, err := s.RevokeAll(ctx, "sub", "", t0); return err }, cache.ErrInvalid},
		{"cutoff before 1970", func(s *Source) error {
			_, err := s.RevokeAll(ctx, "sub", "v", cache.MinTime.Add(-time.Second))
			return err
		}, cache.ErrInvalid},
		{"claim with NUL", func(s *Source) error { _, err := s.RevokeAll(ctx, "s\x00ub", "v", t0); return err }, cache.ErrInvalid},
		{"empty claim", func(s *Source) error { _, err := s.RevokeAll(ctx, "", "v", t0); return err }, cache.ErrInvalid},
		{"unban value too long", func(s *Source) error { _, err := s.Unban(ctx, "sub", long); return err }, cache.ErrTooLong},
		{"unban claim too long", func(s *Source) error { _, err := s.Unban(ctx, long, "v"); return err }, cache.ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			err := tc.call(f.src)
			cutoffs, denials := rows(t, f.src)
			stored := len(cutoffs) + len(denials)
			if tc.wantErr == nil {
				if err != nil || stored != 1 {
					t.Fatalf("err = %v, rows = %d; want accepted and 1 row", err, stored)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, cache.ErrInvalid) {
				t.Errorf("err = %v, want %v (an ErrInvalid)", err, tc.wantErr)
			}
			if stored != 0 || f.replica.Version() != 0 {
				t.Errorf("rows = %d, replica version = %d after a rejected call, want 0 and 0", stored, f.replica.Version())
			}
		})
	}
}

func TestWriteAfterCloseIsUnavailable(t *testing.T) {
	f := newFixture(t)
	if err := f.src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := f.src.RevokeToken(context.Background(), "a", t0.Add(time.Hour))
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("RevokeToken after Close: err = %v, want cache.ErrUnavailable", err)
	}
	if f.replica.Denied("a") {
		t.Errorf("replica denies a token whose write failed")
	}
	if got := f.src.Status().State; got != cache.StateDisconnected {
		t.Errorf("State after Close = %q, want %q", got, cache.StateDisconnected)
	}
}
