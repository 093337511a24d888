package pipeline_test

import (
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// micro is t0 plus a number of microseconds.
func micro(us int64) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }

// TestCutoffRules covers how a cutoff compares with a token's session start:
// strictly before, at microsecond precision, on the subject whatever its
// claim is called, on sid and on other configured claims, and as a ban.
func TestCutoffRules(t *testing.T) {
	const bigID = "12345678901234567890" // 20 digits: a float64 would round it
	tests := []struct {
		name   string
		cfg    pipeline.Config
		claims claims
		claim  string // cutoff claim
		value  string
		before time.Time
		reason string
		until  time.Time
	}{
		{name: "issued earlier in the same second", claims: claims{"iat": num("1800000000.25")},
			claim: "sub", value: "alice", before: micro(500_000), reason: apitype.ReasonSubjectRevoked},
		{name: "issued one microsecond before", claims: claims{"iat": num("1800000000.499999")},
			claim: "sub", value: "alice", before: micro(500_000), reason: apitype.ReasonSubjectRevoked},
		{name: "issued exactly at the cutoff", claims: claims{"iat": num("1800000000.5")},
			claim: "sub", value: "alice", before: micro(500_000)},
		{name: "issued after the cutoff", claims: claims{"iat": num("1800000000.500001")},
			claim: "sub", value: "alice", before: micro(500_000)},
		{name: "whole-second iat, cutoff a microsecond later", claims: claims{"iat": t0.Unix()},
			claim: "sub", value: "alice", before: micro(1), reason: apitype.ReasonSubjectRevoked},
		{name: "orig_iat is the session start, not iat", claims: claims{"iat": t0.Unix(), "orig_iat": t0.Unix() - 100},
			claim: "sub", value: "alice", before: micro(-50_000_000), reason: apitype.ReasonSubjectRevoked},
		{name: "refreshed token after the cutoff keeps its old session", claims: claims{"iat": t0.Unix(), "orig_iat": t0.Unix() - 100},
			claim: "sub", value: "alice", before: micro(-200_000_000)},
		{name: "other subject untouched", claim: "sub", value: "bob", before: t0},
		{name: "ban in the future", claim: "sub", value: "alice", before: t0.Add(24 * time.Hour),
			reason: apitype.ReasonSubjectRevoked, until: t0.Add(24 * time.Hour)},
		{name: "cutoff in the past has no until", claim: "sub", value: "alice", before: t0,
			reason: apitype.ReasonSubjectRevoked},
		{name: "sid", claim: "sid", value: "sess-1", before: t0, reason: apitype.ReasonSessionRevoked},
		{name: "other sid untouched", claim: "sid", value: "sess-2", before: t0},
		{name: "other claim", cfg: pipeline.Config{CutoffClaims: []string{"sub", "tenant"}},
			claims: claims{"tenant": "acme"}, claim: "tenant", value: "acme", before: t0, reason: apitype.ReasonClaimRevoked},
		{name: "sid not configured", cfg: pipeline.Config{CutoffClaims: []string{"sub"}},
			claim: "sid", value: "sess-1", before: t0},
		{name: "20-digit subject keeps every digit", claims: claims{"sub": num(bigID)},
			claim: "sub", value: bigID, before: t0, reason: apitype.ReasonSubjectRevoked},
		{name: "20-digit subject is not its float64 rounding", claims: claims{"sub": num(bigID)},
			claim: "sub", value: "12345678901234567000", before: t0},
		{name: "numeric subject matches its decimal string", claims: claims{"sub": 7},
			claim: "sub", value: "7", before: t0, reason: apitype.ReasonSubjectRevoked},
		{name: "subject claim id is cutoff claim sub", cfg: pipeline.Config{SubjectClaim: "id"},
			claims: claims{"sub": nil, "id": num("42")}, claim: "sub", value: "42", before: t0, reason: apitype.ReasonSubjectRevoked},
		{name: "subject claim id: a literal sub claim is not the subject", cfg: pipeline.Config{SubjectClaim: "id"},
			claims: claims{"sub": "alice", "id": num("42")}, claim: "sub", value: "alice", before: t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			// A second past t0, so that cutoffs within t0's second are past.
			f.clock.Set(t0.Add(time.Second))
			tok := hs256(t, with(baseClaims(), tc.claims))
			if r := f.p.Validate(tok); !r.Active() {
				t.Fatalf("before the cutoff: reason = %q, want active", r.Reason)
			}
			f.p.WaitCache()
			f.cutoff(tc.claim, tc.value, tc.before)
			r := f.p.Validate(tok)
			if r.Reason != tc.reason {
				t.Fatalf("reason = %q, want %q", r.Reason, tc.reason)
			}
			if !r.Until.Equal(tc.until) {
				t.Errorf("until = %v, want %v", r.Until, tc.until)
			}
		})
	}
}

// TestLatestCutoffWins checks that when several cutoffs reject a token, the
// answer names the one that lasts longest, so a ban is never hidden.
func TestLatestCutoffWins(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	tok := hs256(t, baseClaims())
	f.cutoff("sub", "alice", t0)
	ban := t0.Add(time.Hour)
	f.cutoff("sid", "sess-1", ban)
	r := f.p.Validate(tok)
	if r.Reason != apitype.ReasonSessionRevoked || !r.Until.Equal(ban) {
		t.Fatalf("got %q until %v, want %q until %v", r.Reason, r.Until, apitype.ReasonSessionRevoked, ban)
	}
	// Once the ban is over, the subject's cutoff still rejects the token.
	f.clock.Set(ban.Add(time.Second))
	tok2 := hs256(t, with(baseClaims(), claims{"exp": ban.Add(time.Hour).Unix()}))
	r = f.p.Validate(tok2)
	if r.Reason != apitype.ReasonSessionRevoked || !r.Until.IsZero() {
		t.Fatalf("after the ban: got %q until %v, want %q without until", r.Reason, r.Until, apitype.ReasonSessionRevoked)
	}
}

// TestDenials covers denial by jti and by SHA-256 id, and that a denial
// of one token leaves others alone.
func TestDenials(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	withJTI := hs256(t, baseClaims())
	noJTI := hs256(t, with(baseClaims(), claims{"jti": nil}))
	other := hs256(t, with(baseClaims(), claims{"jti": nil, "iat": t0.Unix() - 30}))

	if r := f.p.Validate(noJTI); !r.Active() || r.Token.ID != pipeline.TokenID(noJTI) || r.Token.JTI != "" {
		t.Fatalf("token without jti: reason %q, id %q, want active with id %q", r.Reason, r.Token.ID, pipeline.TokenID(noJTI))
	}
	if !strings.HasPrefix(pipeline.TokenID(noJTI), "sha256:") || strings.ContainsAny(pipeline.TokenID(noJTI), "+/=") {
		t.Fatalf("TokenID = %q, want sha256: and unpadded base64url", pipeline.TokenID(noJTI))
	}
	f.deny("jti-1")
	f.deny(pipeline.TokenID(noJTI))
	tests := []struct {
		name, token, reason string
	}{
		{"by jti", withJTI, apitype.ReasonRevoked},
		{"by sha256 id", noJTI, apitype.ReasonRevoked},
		{"another token", other, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.p.Validate(tc.token); r.Reason != tc.reason {
				t.Fatalf("reason = %q, want %q", r.Reason, tc.reason)
			}
		})
	}
	t.Run("denial expires", func(t *testing.T) {
		f.clock.Add(time.Hour)
		tok := hs256(t, with(baseClaims(), claims{"exp": t0.Add(3 * time.Hour).Unix()}))
		if r := f.p.Validate(tok); !r.Active() {
			t.Fatalf("reason = %q after the denial expired, want active", r.Reason)
		}
	})
}

// TestECDSATwinDenied checks that denying a jti-less ES256 token also
// denies its twin with signature (r, n−s), which verifies just as well.
func TestECDSATwinDenied(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	tok := mint(t, jwt.SigningMethodES256, keys().ec256, with(baseClaims(), claims{"jti": nil}), nil)
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	twin := tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)

	if r := f.p.Validate(twin); !r.Active() {
		t.Fatalf("twin: reason = %q, want active (it is a valid signature)", r.Reason)
	}
	f.deny(pipeline.TokenID(tok))
	for name, token := range map[string]string{"original": tok, "twin": twin} {
		if r := f.p.Validate(token); r.Reason != apitype.ReasonRevoked {
			t.Errorf("%s: reason = %q, want %q", name, r.Reason, apitype.ReasonRevoked)
		}
	}
}

// TestCacheHitRechecks checks that an answer from the verified-token cache
// still follows the clock, the replica and staleness.
func TestCacheHitRechecks(t *testing.T) {
	f := newFixture(t, pipeline.Config{
		MaxSessionAge: 2 * time.Hour,
		Leeway:        10 * time.Second,
		StaleAfter:    time.Second,
	})
	c := with(baseClaims(), claims{"nbf": t0.Unix() + 60})
	tok := hs256(t, c)
	noJTI := hs256(t, with(c, claims{"jti": nil}))

	// Not yet valid, but verified: it is cached and becomes valid by itself.
	if r := f.p.Validate(tok); r.Reason != apitype.ReasonNotYetValid {
		t.Fatalf("reason = %q, want %q", r.Reason, apitype.ReasonNotYetValid)
	}
	f.clock.Add(60 * time.Second)
	waitForHit(t, f, tok)

	steps := []struct {
		name   string
		token  string
		do     func()
		reason string
	}{
		{"active from the cache", tok, f.replica.Touch, ""},
		{"stale", tok, f.loseContact, apitype.ReasonUnavailable},
		{"fresh again", tok, f.replica.Touch, ""},
		{"denied by jti", tok, func() { f.deny("jti-1") }, apitype.ReasonRevoked},
		{"jti-less token active", noJTI, func() {}, ""},
		{"denied by sha256 id", noJTI, func() { f.deny(pipeline.TokenID(noJTI)) }, apitype.ReasonRevoked},
		{"subject revoked", noJTI, func() { f.cutoff("sub", "alice", t0) }, apitype.ReasonSubjectRevoked},
		{"expired within leeway", noJTI, func() { f.clock.Set(t0.Add(time.Hour + 5*time.Second)); f.replica.Touch() }, apitype.ReasonSubjectRevoked},
		{"expired", noJTI, func() { f.clock.Set(t0.Add(time.Hour + 10*time.Second)); f.replica.Touch() }, apitype.ReasonExpired},
	}
	for _, s := range steps {
		waitForHit(t, f, s.token)
		s.do()
		hits := f.p.CacheHits()
		r := f.p.Validate(s.token)
		if r.Reason != s.reason {
			t.Fatalf("%s: reason = %q, want %q", s.name, r.Reason, s.reason)
		}
		if f.p.CacheHits() != hits+1 {
			t.Fatalf("%s: answer did not come from the cache", s.name)
		}
	}

	t.Run("session age", func(t *testing.T) {
		f := newFixture(t, pipeline.Config{MaxSessionAge: time.Hour})
		tok := hs256(t, with(baseClaims(), claims{"exp": t0.Add(3 * time.Hour).Unix()}))
		waitForHit(t, f, tok)
		f.clock.Add(time.Hour - time.Minute)
		if r := f.p.Validate(tok); !r.Active() {
			t.Fatalf("at max age: reason = %q, want active", r.Reason)
		}
		f.clock.Add(time.Second)
		hits := f.p.CacheHits()
		if r := f.p.Validate(tok); r.Reason != apitype.ReasonSessionExpired || f.p.CacheHits() != hits+1 {
			t.Fatalf("past max age: reason = %q (hit %v), want %q from the cache", r.Reason, f.p.CacheHits() > hits, apitype.ReasonSessionExpired)
		}
	})
}

// waitForHit validates tok until the answer comes from the cache: ristretto
// may drop a Set, so one Validate and Wait are not always enough.
func waitForHit(t *testing.T, f *fixture, tok string) {
	t.Helper()
	for range 100 {
		hits := f.p.CacheHits()
		f.p.Validate(tok)
		if f.p.CacheHits() > hits {
			return
		}
		f.p.WaitCache()
	}
	t.Fatalf("token never served from the cache")
}

// TestConcurrentValidate validates from several goroutines while the
// replica changes: once a cutoff is applied, no answer may be active.
func TestConcurrentValidate(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	toks := []string{
		hs256(t, baseClaims()),
		mint(t, jwt.SigningMethodES256, keys().ec256, baseClaims(), nil),
		mint(t, jwt.SigningMethodEdDSA, keys().ed, with(baseClaims(), claims{"jti": nil}), nil),
	}
	done := make(chan struct{})
	errs := make(chan string, 4)
	var applying, applied atomic.Bool // set before and after the cutoff is applied
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				appliedBefore := applied.Load()
				r := f.p.Validate(toks[(g+i)%len(toks)])
				if appliedBefore && r.Active() {
					errs <- "active after the cutoff was applied"
					return
				}
				if !applying.Load() && !r.Active() {
					errs <- "inactive before the cutoff: " + r.Reason
					return
				}
			}
		}()
	}
	// Let the goroutines fill the cache, then revoke everything of alice.
	waitForHit(t, f, toks[0])
	applying.Store(true)
	f.cutoff("sub", "alice", t0.Add(time.Second))
	applied.Store(true)
	for range 1000 {
		if r := f.p.Validate(toks[1]); r.Reason != apitype.ReasonSubjectRevoked {
			t.Fatalf("reason = %q, want %q", r.Reason, apitype.ReasonSubjectRevoked)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A replica that has not loaded its first snapshot knows of no revocation,
// so answering from it would fail open: until it is ready, a token that
// passes every other check is unavailable, and one that fails keeps its own
// reason.
func TestReplicaNotReadyIsUnavailable(t *testing.T) {
	clock := clocktest.New(t0)
	replica := cache.NewReplica(clock, 0, 0)
	p, err := pipeline.New(pipeline.Config{HMACSecret: keys().hmac, Clock: clock, Replica: replica})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	tok := hs256(t, baseClaims())
	expired := hs256(t, with(baseClaims(), claims{"exp": t0.Unix() - 3600}))

	if r := p.Validate(tok); r.Reason != apitype.ReasonUnavailable {
		t.Fatalf("before the snapshot: reason = %q, want %q", r.Reason, apitype.ReasonUnavailable)
	}
	if r := p.Validate(expired); r.Reason != apitype.ReasonExpired {
		t.Fatalf("expired token before the snapshot: reason = %q, want %q", r.Reason, apitype.ReasonExpired)
	}
	replica.SetReady()
	if r := p.Validate(tok); !r.Active() {
		t.Fatalf("after the snapshot: reason = %q, want active", r.Reason)
	}
}

// TestFutureSessionStart: a token issued, or a session started, in the
// future is not yet valid until the clock reaches it (from the cache too),
// so it cannot slip past a cutoff, a ban or the maximum session age by
// claiming to start after them.
func TestFutureSessionStart(t *testing.T) {
	tenYears := t0.AddDate(10, 0, 0)
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at     time.Time
		reason string
	}
	tests := []struct {
		name   string
		cfg    pipeline.Config
		claims claims
		setup  func(f *fixture)
		steps  []step
	}{
		{name: "iat two minutes ahead, logout everywhere now: not valid until its iat",
			claims: claims{"iat": t0.Add(2 * time.Minute).Unix(), "exp": t0.Add(time.Hour).Unix()},
			setup:  func(f *fixture) { f.cutoff("sub", "alice", t0) },
			steps: []step{
				{t0, apitype.ReasonNotYetValid},
				{t0.Add(2*time.Minute - time.Second), apitype.ReasonNotYetValid},
				// Issued after the cutoff, once it is issued at all.
				{t0.Add(2 * time.Minute), ""},
			}},
		{name: "iat two minutes ahead, within a leeway of three",
			cfg:    pipeline.Config{Leeway: 3 * time.Minute},
			claims: claims{"iat": t0.Add(2 * time.Minute).Unix()},
			steps:  []step{{t0, ""}}},
		{name: "iat ahead by more than the leeway becomes valid at iat minus the leeway",
			cfg:    pipeline.Config{Leeway: 30 * time.Second},
			claims: claims{"iat": t0.Add(2 * time.Minute).Unix()},
			steps: []step{
				{t0, apitype.ReasonNotYetValid},
				{t0.Add(90*time.Second - time.Microsecond), apitype.ReasonNotYetValid},
				{t0.Add(90 * time.Second), ""},
			}},
		{name: "orig_iat ten years ahead reaches session_expired",
			cfg:    pipeline.Config{MaxSessionAge: time.Hour},
			claims: claims{"iat": nil, "orig_iat": tenYears.Unix(), "exp": tenYears.Add(3 * time.Hour).Unix()},
			steps: []step{
				{t0, apitype.ReasonNotYetValid},
				{tenYears.Add(-time.Second), apitype.ReasonNotYetValid},
				{tenYears, ""},
				{tenYears.Add(time.Hour + time.Second), apitype.ReasonSessionExpired},
			}},
		{name: "orig_iat past 9999 never outlives a ban",
			claims: claims{"iat": nil, "orig_iat": year10000.Unix(), "exp": year10000.Add(time.Hour).Unix()},
			setup:  func(f *fixture) { f.cutoff("sub", "alice", cache.MaxTime) },
			steps: []step{
				{t0, apitype.ReasonNotYetValid},
				{cache.MaxTime, apitype.ReasonNotYetValid},
			}},
		{name: "orig_iat ahead with an iat is malformed",
			claims: claims{"orig_iat": t0.Add(time.Hour).Unix()},
			steps:  []step{{t0, apitype.ReasonMalformed}, {t0.Add(2 * time.Hour), apitype.ReasonMalformed}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			tok := hs256(t, with(baseClaims(), tc.claims))
			if tc.setup != nil {
				tc.setup(f)
			}
			for i, st := range tc.steps {
				f.clock.Set(st.at)
				// The first answer of the first step is verified in full;
				// every later one may come from the cache and must agree.
				for _, pass := range []string{"first", "again"} {
					if r := f.p.Validate(tok); r.Reason != st.reason {
						t.Fatalf("step %d at %v, %s pass: reason = %q, want %q", i, st.at, pass, r.Reason, st.reason)
					}
					f.p.WaitCache()
				}
			}
		})
	}
}

// TestFutureIssueTimeFromTheCache: a token first seen while not yet valid
// is cached, and the cached answer follows the clock to valid.
func TestFutureIssueTimeFromTheCache(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	tok := hs256(t, with(baseClaims(), claims{"iat": t0.Add(time.Minute).Unix()}))
	if r := f.p.Validate(tok); r.Reason != apitype.ReasonNotYetValid {
		t.Fatalf("at t0: reason = %q, want %q", r.Reason, apitype.ReasonNotYetValid)
	}
	waitForHit(t, f, tok)
	steps := []struct {
		name   string
		at     time.Time
		reason string
	}{
		{"a second before iat", t0.Add(59 * time.Second), apitype.ReasonNotYetValid},
		{"at iat", t0.Add(time.Minute), ""},
	}
	for _, s := range steps {
		f.clock.Set(s.at)
		hits := f.p.CacheHits()
		if r := f.p.Validate(tok); r.Reason != s.reason || f.p.CacheHits() != hits+1 {
			t.Fatalf("%s: reason = %q (from the cache %v), want %q from the cache", s.name, r.Reason, f.p.CacheHits() > hits, s.reason)
		}
	}
}
