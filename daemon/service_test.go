package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// memSource is an in-memory cache.Source with the real semantics: writes
// apply to the replica with a new version before they return.
type memSource struct {
	mu      sync.Mutex
	r       *cache.Replica
	clock   cache.Clock
	leeway  time.Duration // a denial is in force until exp plus it
	version int64
	cutoffs map[[2]string]time.Time
	denials map[string]time.Time
	down    bool // writes fail with cache.ErrUnavailable
	writes  int
	exps    []time.Time // every exp RevokeToken was given
	befores []time.Time // every before RevokeAll was given
}

func newMemSource(r *cache.Replica, clock cache.Clock) *memSource {
	return &memSource{r: r, clock: clock, cutoffs: map[[2]string]time.Time{}, denials: map[string]time.Time{}}
}

func (m *memSource) Run(ctx context.Context) error {
	m.r.SetReady()
	<-ctx.Done()
	return nil
}

func (m *memSource) RevokeToken(ctx context.Context, id string, exp time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	m.exps = append(m.exps, exp)
	if m.down {
		return false, cache.ErrUnavailable
	}
	if err := errors.Join(cache.CheckTokenID(id), cache.CheckTime("expiry", exp)); err != nil {
		return false, err
	}
	now := m.clock.Now()
	held, ok := m.denials[id]
	inForce := ok && held.Add(m.leeway).After(now)
	if (inForce && !exp.After(held)) || (!inForce && !exp.Add(m.leeway).After(now)) {
		return false, nil
	}
	m.denials[id] = exp
	m.version++
	m.r.ApplyDenial(cache.Denial{ID: id, ExpiresAt: exp, Version: m.version})
	return !inForce, nil
}

func (m *memSource) setCutoff(k [2]string, before time.Time) {
	m.cutoffs[k] = before
	m.version++
	m.r.ApplyCutoff(cache.Cutoff{Claim: k[0], Value: k[1], Before: before, Version: m.version})
}

func (m *memSource) RevokeAll(ctx context.Context, claim, value string, before time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	m.befores = append(m.befores, before)
	if m.down {
		return time.Time{}, cache.ErrUnavailable
	}
	if err := cache.CheckCutoff(claim, value); err != nil {
		return time.Time{}, err
	}
	if !before.IsZero() {
		if err := cache.CheckTime("cutoff", before); err != nil {
			return time.Time{}, err
		}
	}
	if before.IsZero() {
		before = m.clock.Now()
	}
	k := [2]string{claim, value}
	if held, ok := m.cutoffs[k]; ok && !before.After(held) {
		return held, nil
	}
	m.setCutoff(k, before)
	return before, nil
}

func (m *memSource) Unban(ctx context.Context, claim, value string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.down {
		return time.Time{}, cache.ErrUnavailable
	}
	if err := cache.CheckCutoff(claim, value); err != nil {
		return time.Time{}, err
	}
	k := [2]string{claim, value}
	held, ok := m.cutoffs[k]
	if now := m.clock.Now(); ok && held.After(now) {
		m.setCutoff(k, now)
		return now, nil
	}
	return held, nil
}

func (m *memSource) Status() cache.SourceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cache.SourceStatus{Kind: "mem", State: cache.StateSynced, LastContact: m.r.LastContact(), Reconnects: 1}
}

func (m *memSource) Close() error { return nil }

var testSecret = []byte("0123456789abcdef0123456789abcdef")

const testLeeway = 30 * time.Second

// serviceFixture is a Service over a real pipeline and replica, assembled
// by New as every daemon is, with its store opened but not run.
type serviceFixture struct {
	svc   *Service
	src   *memSource
	r     *cache.Replica
	clock *clocktest.Clock
	p     *pipeline.Pipeline
}

// newDaemon assembles a daemon at t0 over a memSource, with the settings
// the service tests share, and opens its store. The store has not been
// heard from and the replica is not ready: that is the test's to say.
func newDaemon(t testing.TB, staleAfter time.Duration, cutoffClaims []string) (*Daemon, *memSource, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(t0)
	d, src := openMemDaemon(t, clock, Options{
		Pipeline:   pipeline.Config{HMACSecret: testSecret, Leeway: testLeeway, CutoffClaims: cutoffClaims},
		StaleAfter: staleAfter,
	})
	return d, src, clock
}

// openMemDaemon assembles a daemon from opts over a memSource on clock
// (with the tests' leeway), and opens its store. Its replica is not ready:
// that is the caller's to say.
func openMemDaemon(t testing.TB, clock *clocktest.Clock, opts Options) (*Daemon, *memSource) {
	t.Helper()
	var src *memSource
	opts.Clock = clock
	opts.Source = func(r *cache.Replica) (cache.Source, error) {
		src = newMemSource(r, clock)
		src.leeway = testLeeway
		return src, nil
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d, src
}

func newServiceFixture(t testing.TB, staleAfter time.Duration) *serviceFixture {
	t.Helper()
	d, src, clock := newDaemon(t, staleAfter, nil)
	d.replica.SetReady()
	d.replica.Touch()
	return &serviceFixture{svc: d.svc, src: src, r: d.replica, clock: clock, p: d.p}
}

// mint signs an HS256 token for sub, issued at iat (microseconds kept),
// expiring an hour later.
func mint(t testing.TB, sub, jti string, iat time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "iat": float64(iat.UnixMicro()) / 1e6, "exp": iat.Add(time.Hour).Unix()}
	if jti != "" {
		claims["jti"] = jti
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestServiceRevoke(t *testing.T) {
	f := newServiceFixture(t, 0)
	ctx := context.Background()
	tok := mint(t, "alice", "j-1", t0.Add(-time.Minute))
	tests := []struct {
		name       string
		req        apitype.RevokeRequest
		wantStored bool
		wantWrite  bool // whether the source is asked at all
	}{
		{name: "active token", req: apitype.RevokeRequest{Token: tok}, wantStored: true, wantWrite: true},
		{name: "same token again", req: apitype.RevokeRequest{Token: tok}, wantStored: false},
		{name: "garbage", req: apitype.RevokeRequest{Token: "not.a.token"}, wantStored: false},
		{name: "expired token", req: apitype.RevokeRequest{Token: mint(t, "bob", "j-2", t0.Add(-2*time.Hour))}, wantStored: false},
		{name: "jti in the future", req: apitype.RevokeRequest{JTI: "j-3", Exp: t0.Add(time.Hour).Unix()}, wantStored: true, wantWrite: true},
		{name: "jti expired but within leeway", req: apitype.RevokeRequest{JTI: "j-4", Exp: t0.Add(-10 * time.Second).Unix()}, wantStored: true, wantWrite: true},
		{name: "jti expired beyond leeway", req: apitype.RevokeRequest{JTI: "j-5", Exp: t0.Add(-time.Minute).Unix()}, wantStored: false},
		{name: "jti whose exp plus leeway is now", req: apitype.RevokeRequest{JTI: "j-6", Exp: t0.Add(-testLeeway).Unix()}, wantStored: false},
		{name: "jti whose exp plus leeway is a second ahead", req: apitype.RevokeRequest{JTI: "j-7", Exp: t0.Add(-testLeeway + time.Second).Unix()},
			wantStored: true, wantWrite: true},
		{name: "exp past what a store keeps", req: apitype.RevokeRequest{JTI: "j-far", Exp: time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
			wantStored: true, wantWrite: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.src.writes
			got, err := f.svc.Revoke(ctx, tc.req)
			if err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got.Stored != tc.wantStored {
				t.Errorf("stored: got %v, want %v", got.Stored, tc.wantStored)
			}
			if wrote := f.src.writes > before; wrote != tc.wantWrite {
				t.Errorf("source written: got %v, want %v", wrote, tc.wantWrite)
			}
		})
	}
	if res := f.svc.Validate(tok); res.Reason != apitype.ReasonRevoked {
		t.Errorf("revoked token validates as %q, want %q", res.Reason, apitype.ReasonRevoked)
	}
	_, denials := f.r.Snapshot()
	want := t0.Add(-time.Minute).Add(time.Hour)
	for _, d := range denials {
		if d.ID == "j-1" && !d.ExpiresAt.Equal(want) {
			t.Errorf("denial j-1 holds exp %v, want the token's own exp %v (no leeway added)", d.ExpiresAt, want)
		}
		if d.ID == "j-4" && !d.ExpiresAt.Equal(time.Unix(t0.Add(-10*time.Second).Unix(), 0)) {
			t.Errorf("denial j-4 holds exp %v, want the given exp %v", d.ExpiresAt, t0.Add(-10*time.Second))
		}
		if d.ID == "j-far" && !d.ExpiresAt.Equal(cache.MaxTime) {
			t.Errorf("denial j-far expires %v, want it clamped to %v", d.ExpiresAt, cache.MaxTime)
		}
	}
}

// mintClaims signs an HS256 token with the given claims.
func mintClaims(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestServiceRevokeNotYetValid: a verified, unexpired token can be revoked
// before its nbf (or its iat) comes, and is refused once it does; the rules
// for storing nothing (denied, cut off, expired) hold for it too.
func TestServiceRevokeNotYetValid(t *testing.T) {
	iat := t0.Add(-time.Minute).Unix()
	exp := t0.Add(time.Hour).Unix()
	nbf := t0.Add(10 * time.Minute)
	tests := []struct {
		name       string
		claims     jwt.MapClaims
		setup      func(f *serviceFixture)
		wantStored bool
		wantExp    time.Time // the exp the source was given; zero: not asked
	}{
		{name: "nbf ahead", claims: jwt.MapClaims{"sub": "alice", "jti": "j", "iat": iat, "nbf": nbf.Unix(), "exp": exp},
			wantStored: true, wantExp: time.Unix(exp, 0)},
		{name: "iat ahead", claims: jwt.MapClaims{"sub": "alice", "jti": "j", "iat": nbf.Unix(), "exp": exp},
			wantStored: true, wantExp: time.Unix(exp, 0)},
		{name: "nbf ahead, already denied", claims: jwt.MapClaims{"sub": "alice", "jti": "j", "iat": iat, "nbf": nbf.Unix(), "exp": exp},
			setup: func(f *serviceFixture) {
				f.r.ApplyDenial(cache.Denial{ID: "j", ExpiresAt: time.Unix(exp, 0), Version: 100})
			}},
		{name: "nbf ahead, subject banned past it", claims: jwt.MapClaims{"sub": "alice", "jti": "j", "iat": iat, "nbf": nbf.Unix(), "exp": exp},
			setup: func(f *serviceFixture) {
				f.r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "alice", Before: t0.Add(24 * time.Hour), Version: 100})
			}},
		{name: "nbf ahead, expired", claims: jwt.MapClaims{"sub": "alice", "jti": "j", "iat": iat - 7200, "nbf": nbf.Unix(), "exp": t0.Add(-time.Hour).Unix()}},
		{name: "nbf ahead, bad signature", claims: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newServiceFixture(t, 0)
			tok := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
			if tc.claims != nil {
				tok = mintClaims(t, tc.claims)
			}
			if tc.setup != nil {
				tc.setup(f)
			}
			got, err := f.svc.Revoke(context.Background(), apitype.RevokeRequest{Token: tok})
			if err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got.Stored != tc.wantStored {
				t.Errorf("stored = %v, want %v", got.Stored, tc.wantStored)
			}
			switch {
			case tc.wantExp.IsZero() && len(f.src.exps) != 0:
				t.Errorf("source asked to deny until %v, want not asked", f.src.exps)
			case !tc.wantExp.IsZero() && (len(f.src.exps) != 1 || !f.src.exps[0].Equal(tc.wantExp)):
				t.Errorf("source given exps %v, want [%v]: the token's own exp", f.src.exps, tc.wantExp)
			}
			if !tc.wantStored {
				return
			}
			// Once its time comes, the token is refused.
			if res := f.svc.Validate(tok); res.Reason != apitype.ReasonNotYetValid {
				t.Errorf("before its time: %q, want %q", res.Reason, apitype.ReasonNotYetValid)
			}
			f.clock.Set(nbf)
			if res := f.svc.Validate(tok); res.Reason != apitype.ReasonRevoked {
				t.Errorf("at its time: %q, want %q", res.Reason, apitype.ReasonRevoked)
			}
		})
	}
}

// TestServiceRevokeAllBefore: without "before" the source is given a zero
// time and takes its own clock; a "before" no store keeps is a bad request
// that reaches no store.
func TestServiceRevokeAllBefore(t *testing.T) {
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	tests := []struct {
		name       string
		before     *time.Time
		wantErr    bool
		wantSource time.Time // what the source is given
		wantBefore time.Time // the cutoff in effect
	}{
		{name: "no before: the store's clock", before: nil, wantSource: time.Time{}, wantBefore: t0},
		{name: "year 1", before: at("0001-01-01T00:00:00Z"), wantErr: true},
		{name: "before 1970", before: at("1969-12-31T23:59:59Z"), wantErr: true},
		{name: "after 9999", before: at("9999-01-01T00:00:01Z"), wantErr: true},
		{name: "1970", before: at("1970-01-01T00:00:00Z"), wantSource: time.Unix(0, 0), wantBefore: time.Unix(0, 0)},
		{name: "9999", before: at("9999-01-01T00:00:00Z"), wantSource: cache.MaxTime, wantBefore: cache.MaxTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newServiceFixture(t, 0)
			got, err := f.svc.RevokeAll(context.Background(), apitype.RevokeAllRequest{Sub: "42", Before: tc.before})
			if tc.wantErr {
				if status, body := errorOf(err); status != 400 || body.Code != apitype.CodeBadRequest {
					t.Errorf("got %+v, %v (%d %s); want 400 %s", got, err, status, body.Code, apitype.CodeBadRequest)
				}
				if f.src.writes != 0 {
					t.Errorf("source written %d times, want 0", f.src.writes)
				}
				return
			}
			if err != nil {
				t.Fatalf("RevokeAll: %v", err)
			}
			if len(f.src.befores) != 1 || !f.src.befores[0].Equal(tc.wantSource) {
				t.Errorf("source given %v, want [%v]", f.src.befores, tc.wantSource)
			}
			if !got.Before.Equal(tc.wantBefore) {
				t.Errorf("cutoff in effect %v, want %v", got.Before, tc.wantBefore)
			}
		})
	}
}

func TestServiceUnavailable(t *testing.T) {
	f := newServiceFixture(t, 0)
	f.src.down = true
	ctx := context.Background()
	_, err := f.svc.Revoke(ctx, apitype.RevokeRequest{Token: mint(t, "alice", "j", t0)})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("Revoke with the store down: got %v, want ErrUnavailable", err)
	}
	_, err = f.svc.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "alice"})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("RevokeAll with the store down: got %v, want ErrUnavailable", err)
	}
	if status, _ := errorOf(err); status != 503 {
		t.Errorf("status for the store down: got %d, want 503", status)
	}
}

func TestServiceRevokeAllAndUnban(t *testing.T) {
	f := newServiceFixture(t, 0)
	ctx := context.Background()
	// Issued 500µs before now: the same second as the cutoff, and earlier.
	early := mint(t, "42", "", t0.Add(-500*time.Microsecond))
	if res := f.svc.Validate(early); !res.Active() {
		t.Fatalf("fresh token: got %q, want active", res.Reason)
	}
	got, err := f.svc.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (apitype.RevokeAllResponse{Claim: "sub", Value: "42", Before: t0}); got != want {
		t.Errorf("RevokeAll default before: got %+v, want %+v", got, want)
	}
	if res := f.svc.Validate(early); res.Reason != apitype.ReasonSubjectRevoked {
		t.Errorf("token issued before the cutoff: got %q, want %q", res.Reason, apitype.ReasonSubjectRevoked)
	}

	ban := t0.Add(24 * time.Hour)
	got, err = f.svc.RevokeAll(ctx, apitype.RevokeAllRequest{Claim: "sub", Value: "42", Before: &ban})
	if err != nil || !got.Before.Equal(ban) {
		t.Fatalf("ban: got %+v, %v; want before %v", got, err, ban)
	}
	earlier := t0.Add(time.Hour)
	got, err = f.svc.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "42", Before: &earlier})
	if err != nil || !got.Before.Equal(ban) {
		t.Errorf("lowering by revoke-all: got %+v, %v; want the cutoff kept at %v", got, err, ban)
	}
	later := mint(t, "42", "", t0.Add(time.Second))
	if res := f.svc.Validate(later); res.Reason != apitype.ReasonSubjectRevoked || !res.Until.Equal(ban) {
		t.Errorf("token during a ban: got %q until %v, want %q until %v", res.Reason, res.Until, apitype.ReasonSubjectRevoked, ban)
	}

	f.clock.Add(time.Minute)
	un, err := f.svc.Unban(ctx, apitype.UnbanRequest{Sub: "42"})
	if err != nil || !un.Before.Equal(t0.Add(time.Minute)) {
		t.Errorf("unban: got %+v, %v; want before = now %v", un, err, t0.Add(time.Minute))
	}
	fresh := mint(t, "42", "", f.clock.Now().Add(time.Millisecond))
	if res := f.svc.Validate(fresh); !res.Active() {
		t.Errorf("token after the unban: got %q, want active", res.Reason)
	}
}

func TestServiceCutoffClaims(t *testing.T) {
	f := newServiceFixture(t, 0)
	ctx := context.Background()
	tests := []struct {
		name    string
		req     apitype.RevokeAllRequest
		wantErr bool
		claim   string
	}{
		{name: "sub", req: apitype.RevokeAllRequest{Sub: "1"}, claim: "sub"},
		{name: "sub as claim", req: apitype.RevokeAllRequest{Claim: "sub", Value: "1"}, claim: "sub"},
		{name: "sub both ways, agreeing", req: apitype.RevokeAllRequest{Sub: "1", Claim: "sub", Value: "1"}, claim: "sub"},
		{name: "sid", req: apitype.RevokeAllRequest{Claim: "sid", Value: "s"}, claim: "sid"},
		{name: "unconfigured claim", req: apitype.RevokeAllRequest{Claim: "email", Value: "a@b"}, wantErr: true},
		{name: "sub and another claim", req: apitype.RevokeAllRequest{Sub: "1", Claim: "sid", Value: "s"}, wantErr: true},
		{name: "claim without value", req: apitype.RevokeAllRequest{Claim: "sid"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.RevokeAll(ctx, tc.req)
			if tc.wantErr {
				if !errors.Is(err, ErrBadRequest) {
					t.Errorf("got %v, want ErrBadRequest", err)
				}
				return
			}
			if err != nil || got.Claim != tc.claim {
				t.Errorf("got %+v, %v; want claim %s", got, err, tc.claim)
			}
		})
	}
	d, _, _ := newDaemon(t, 0, []string{"sub", "org"})
	custom := d.svc
	if _, err := custom.RevokeAll(ctx, apitype.RevokeAllRequest{Claim: "org", Value: "acme"}); err != nil {
		t.Errorf("configured claim org: %v", err)
	}
	if _, err := custom.RevokeAll(ctx, apitype.RevokeAllRequest{Claim: "sid", Value: "s"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("sid when not configured: got %v, want ErrBadRequest", err)
	}
}

func TestServiceStatusAndStaleness(t *testing.T) {
	f := newServiceFixture(t, time.Minute)
	ctx := context.Background()
	f.svc.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "1"})
	f.svc.Revoke(ctx, apitype.RevokeRequest{JTI: "j", Exp: t0.Add(time.Hour).Unix()})
	tok := mint(t, "2", "", t0)

	st := f.svc.Status()
	want := apitype.StatusResponse{
		Ready: true, Source: "mem", SourceState: cache.StateSynced, LastContact: t0,
		LastVersion: 2, LastChange: t0, Reconnects: 1, Cutoffs: 1, Denials: 1,
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status:\ngot  %+v\nwant %+v", st, want)
	}
	if res := f.svc.Validate(tok); !res.Active() {
		t.Errorf("fresh replica: got %q, want active", res.Reason)
	}

	f.clock.Add(2 * time.Minute)
	st = f.svc.Status()
	if !st.Stale || st.StaleSeconds != 120 {
		t.Errorf("after 2m without contact: stale %v (%v s), want stale (120 s)", st.Stale, st.StaleSeconds)
	}
	if res := f.svc.Validate(mint(t, "3", "", f.clock.Now())); res.Reason != apitype.ReasonUnavailable {
		t.Errorf("stale replica: got %q, want %q", res.Reason, apitype.ReasonUnavailable)
	}
	if f.r.Stale(f.clock.Now(), 0) {
		t.Error("stale with the policy off: got stale, want fresh")
	}
	d, _, _ := newDaemon(t, time.Minute, nil)
	d.replica.SetReady()
	if !d.replica.Stale(t0, time.Minute) {
		t.Error("stale before any contact: got fresh, want stale")
	}
}

// When the replica is stale the daemon cannot tell whether a token is
// already revoked, so a revocation by token is refused with 503 rather than
// answered "stored": false.
func TestServiceRevokeWhileStale(t *testing.T) {
	f := newServiceFixture(t, time.Minute)
	tok := mint(t, "alice", "j-stale", t0)
	f.clock.Add(2 * time.Minute)
	_, err := f.svc.Revoke(context.Background(), apitype.RevokeRequest{Token: tok})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Revoke while stale: got %v, want ErrUnavailable", err)
	}
	if f.src.writes != 0 {
		t.Errorf("source written %d times while stale, want 0", f.src.writes)
	}
}

func TestInvalidWriteIsBadRequest(t *testing.T) {
	err := fmt.Errorf("revoke token: %w", cache.ErrInvalid)
	if status, body := errorOf(err); status != 400 || body.Code != apitype.CodeBadRequest {
		t.Errorf("errorOf(ErrInvalid) = %d %q, want 400 %q", status, body.Code, apitype.CodeBadRequest)
	}
}

func TestServiceStatusBeforeFirstSnapshot(t *testing.T) {
	d, _, _ := newDaemon(t, 0, nil) // never in contact, never loaded
	st := d.svc.Status()
	if st.Ready || !st.Stale {
		t.Errorf("before the first snapshot: ready %v, stale %v; want not ready and stale", st.Ready, st.Stale)
	}
	j, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j), "stale_seconds") {
		t.Errorf("status %s gives stale_seconds before any contact", j)
	}
}

// stale_seconds reads as a person would write it: whole milliseconds, never
// an exponent or a float's trailing digits.
func TestStatusStaleSecondsInMilliseconds(t *testing.T) {
	tests := []struct {
		name  string
		since time.Duration
		want  string // the member in the status JSON; "" when absent
	}{
		{"just heard", 250 * time.Nanosecond, ""},
		{"under half a millisecond", 499 * time.Microsecond, ""},
		{"half a millisecond", 500 * time.Microsecond, `"stale_seconds":0.001`},
		{"float noise", 2450861092 * time.Nanosecond, `"stale_seconds":2.451`},
		{"a tenth", 100 * time.Millisecond, `"stale_seconds":0.1`},
		{"minutes", 2*time.Minute + 3*time.Millisecond, `"stale_seconds":120.003`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newServiceFixture(t, 0)
			f.clock.Add(tc.since)
			j, err := json.Marshal(f.svc.Status())
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if strings.Contains(string(j), "stale_seconds") {
					t.Errorf("status %s: got stale_seconds, want none", j)
				}
				return
			}
			if !strings.Contains(string(j), tc.want+",") {
				t.Errorf("status %s: want %s", j, tc.want)
			}
		})
	}
}
