package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/daemon/pipeline"
)

// memSource is an in-memory cache.Source with the real semantics: writes
// apply to the replica with a new version before they return.
type memSource struct {
	mu          sync.Mutex
	r           *cache.Replica
	clock       cache.Clock
	version     int64
	cutoffs     map[[2]string]time.Time
	denials     map[string]time.Time
	down        bool // writes fail with cache.ErrUnavailable
	writes      int
	lastContact time.Time
}

func newMemSource(r *cache.Replica, clock cache.Clock) *memSource {
	return &memSource{r: r, clock: clock, cutoffs: map[[2]string]time.Time{}, denials: map[string]time.Time{}}
}

func (m *memSource) Run(ctx context.Context) error {
	m.r.SetReady()
	<-ctx.Done()
	return nil
}

func (m *memSource) RevokeToken(ctx context.Context, id string, expiresAt time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.down {
		return false, cache.ErrUnavailable
	}
	now := m.clock.Now()
	if held, ok := m.denials[id]; (ok && held.After(now)) || !expiresAt.After(now) {
		return false, nil
	}
	m.denials[id] = expiresAt
	m.version++
	m.r.ApplyDenial(cache.Denial{ID: id, ExpiresAt: expiresAt, Version: m.version})
	return true, nil
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
	if m.down {
		return time.Time{}, cache.ErrUnavailable
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
	return cache.SourceStatus{Kind: "mem", State: cache.StateSynced, LastContact: m.lastContact, Reconnects: 1}
}

func (m *memSource) Close() error { return nil }

var testSecret = []byte("0123456789abcdef0123456789abcdef")

const testLeeway = 30 * time.Second

// serviceFixture is a Service over a real pipeline and replica.
type serviceFixture struct {
	svc   *Service
	src   *memSource
	r     *cache.Replica
	clock *cache.ManualClock
	p     *pipeline.Pipeline
}

func newServiceFixture(t testing.TB, staleAfter time.Duration) *serviceFixture {
	t.Helper()
	clock := cache.NewManualClock(t0)
	r := cache.NewReplica(clock, 0, 0)
	src := newMemSource(r, clock)
	src.lastContact = t0
	p, err := pipeline.New(pipeline.Config{
		HMACSecret: testSecret,
		Leeway:     testLeeway,
		Clock:      clock,
		Replica:    r,
		Stale:      StaleFunc(src, clock, staleAfter),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	r.SetReady()
	return &serviceFixture{
		svc: NewService(p, r, src, clock, staleAfter, nil),
		src: src, r: r, clock: clock, p: p,
	}
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
		req        client.RevokeRequest
		wantStored bool
		wantWrite  bool // whether the source is asked at all
	}{
		{name: "active token", req: client.RevokeRequest{Token: tok}, wantStored: true, wantWrite: true},
		{name: "same token again", req: client.RevokeRequest{Token: tok}, wantStored: false},
		{name: "garbage", req: client.RevokeRequest{Token: "not.a.token"}, wantStored: false},
		{name: "expired token", req: client.RevokeRequest{Token: mint(t, "bob", "j-2", t0.Add(-2*time.Hour))}, wantStored: false},
		{name: "jti in the future", req: client.RevokeRequest{JTI: "j-3", Exp: t0.Add(time.Hour).Unix()}, wantStored: true, wantWrite: true},
		{name: "jti expired but within leeway", req: client.RevokeRequest{JTI: "j-4", Exp: t0.Add(-10 * time.Second).Unix()}, wantStored: true, wantWrite: true},
		{name: "jti expired beyond leeway", req: client.RevokeRequest{JTI: "j-5", Exp: t0.Add(-time.Minute).Unix()}, wantStored: false},
		{name: "exp past what a store keeps", req: client.RevokeRequest{JTI: "j-far", Exp: time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()},
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
	if res := f.svc.Validate(tok); res.Reason != client.ReasonRevoked {
		t.Errorf("revoked token validates as %q, want %q", res.Reason, client.ReasonRevoked)
	}
	_, denials := f.r.Snapshot()
	want := t0.Add(-time.Minute).Add(time.Hour).Add(testLeeway)
	for _, d := range denials {
		if d.ID == "j-1" && !d.ExpiresAt.Equal(want) {
			t.Errorf("denial j-1 expires %v, want exp+leeway %v", d.ExpiresAt, want)
		}
		if d.ID == "j-far" && !d.ExpiresAt.Equal(cache.MaxTime) {
			t.Errorf("denial j-far expires %v, want it clamped to %v", d.ExpiresAt, cache.MaxTime)
		}
	}
}

func TestServiceUnavailable(t *testing.T) {
	f := newServiceFixture(t, 0)
	f.src.down = true
	ctx := context.Background()
	_, err := f.svc.Revoke(ctx, client.RevokeRequest{Token: mint(t, "alice", "j", t0)})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("Revoke with the store down: got %v, want ErrUnavailable", err)
	}
	_, err = f.svc.RevokeAll(ctx, client.RevokeAllRequest{Sub: "alice"})
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
	got, err := f.svc.RevokeAll(ctx, client.RevokeAllRequest{Sub: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (client.RevokeAllResponse{Claim: "sub", Value: "42", Before: t0}); got != want {
		t.Errorf("RevokeAll default before: got %+v, want %+v", got, want)
	}
	if res := f.svc.Validate(early); res.Reason != client.ReasonSubjectRevoked {
		t.Errorf("token issued before the cutoff: got %q, want %q", res.Reason, client.ReasonSubjectRevoked)
	}

	ban := t0.Add(24 * time.Hour)
	got, err = f.svc.RevokeAll(ctx, client.RevokeAllRequest{Claim: "sub", Value: "42", Before: &ban})
	if err != nil || !got.Before.Equal(ban) {
		t.Fatalf("ban: got %+v, %v; want before %v", got, err, ban)
	}
	earlier := t0.Add(time.Hour)
	got, err = f.svc.RevokeAll(ctx, client.RevokeAllRequest{Sub: "42", Before: &earlier})
	if err != nil || !got.Before.Equal(ban) {
		t.Errorf("lowering by revoke-all: got %+v, %v; want the cutoff kept at %v", got, err, ban)
	}
	later := mint(t, "42", "", t0.Add(time.Second))
	if res := f.svc.Validate(later); res.Reason != client.ReasonSubjectRevoked || !res.Until.Equal(ban) {
		t.Errorf("token during a ban: got %q until %v, want %q until %v", res.Reason, res.Until, client.ReasonSubjectRevoked, ban)
	}

	f.clock.Add(time.Minute)
	un, err := f.svc.Unban(ctx, client.UnbanRequest{Sub: "42"})
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
		req     client.RevokeAllRequest
		wantErr bool
		claim   string
	}{
		{name: "sub", req: client.RevokeAllRequest{Sub: "1"}, claim: "sub"},
		{name: "sub as claim", req: client.RevokeAllRequest{Claim: "sub", Value: "1"}, claim: "sub"},
		{name: "sub both ways, agreeing", req: client.RevokeAllRequest{Sub: "1", Claim: "sub", Value: "1"}, claim: "sub"},
		{name: "sid", req: client.RevokeAllRequest{Claim: "sid", Value: "s"}, claim: "sid"},
		{name: "unconfigured claim", req: client.RevokeAllRequest{Claim: "email", Value: "a@b"}, wantErr: true},
		{name: "sub and another claim", req: client.RevokeAllRequest{Sub: "1", Claim: "sid", Value: "s"}, wantErr: true},
		{name: "claim without value", req: client.RevokeAllRequest{Claim: "sid"}, wantErr: true},
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
	custom := NewService(f.p, f.r, f.src, f.clock, 0, []string{"sub", "org"})
	if _, err := custom.RevokeAll(ctx, client.RevokeAllRequest{Claim: "org", Value: "acme"}); err != nil {
		t.Errorf("configured claim org: %v", err)
	}
	if _, err := custom.RevokeAll(ctx, client.RevokeAllRequest{Claim: "sid", Value: "s"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("sid when not configured: got %v, want ErrBadRequest", err)
	}
}

func TestServiceStatusAndStaleness(t *testing.T) {
	f := newServiceFixture(t, time.Minute)
	ctx := context.Background()
	f.svc.RevokeAll(ctx, client.RevokeAllRequest{Sub: "1"})
	f.svc.Revoke(ctx, client.RevokeRequest{JTI: "j", Exp: t0.Add(time.Hour).Unix()})
	tok := mint(t, "2", "", t0)

	st := f.svc.Status()
	want := client.StatusResponse{
		Ready: true, Source: "mem", SourceState: cache.StateSynced, LastContact: t0,
		LastVersion: 2, LastChange: t0, Reconnects: 1, Cutoffs: 1, Denials: 1,
	}
	if st != want {
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
	if res := f.svc.Validate(mint(t, "3", "", f.clock.Now())); res.Reason != client.ReasonUnavailable {
		t.Errorf("stale replica: got %q, want %q", res.Reason, client.ReasonUnavailable)
	}
	if StaleFunc(f.src, f.clock, 0) != nil {
		t.Error("StaleFunc with the policy off: got a func, want nil")
	}
	f.src.lastContact = time.Time{}
	if stale := StaleFunc(f.src, f.clock, time.Minute); !stale() {
		t.Error("StaleFunc before any contact: got fresh, want stale")
	}
}

// When the replica is stale the daemon cannot tell whether a token is
// already revoked, so a revocation by token is refused with 503 rather than
// answered "stored": false.
func TestServiceRevokeWhileStale(t *testing.T) {
	f := newServiceFixture(t, time.Minute)
	tok := mint(t, "alice", "j-stale", t0)
	f.clock.Add(2 * time.Minute)
	_, err := f.svc.Revoke(context.Background(), client.RevokeRequest{Token: tok})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Revoke while stale: got %v, want ErrUnavailable", err)
	}
	if f.src.writes != 0 {
		t.Errorf("source written %d times while stale, want 0", f.src.writes)
	}
}

func TestInvalidWriteIsBadRequest(t *testing.T) {
	err := fmt.Errorf("revoke token: %w", cache.ErrInvalid)
	if status, body := errorOf(err); status != 400 || body.Code != client.CodeBadRequest {
		t.Errorf("errorOf(ErrInvalid) = %d %q, want 400 %q", status, body.Code, client.CodeBadRequest)
	}
}

func TestServiceStatusBeforeFirstSnapshot(t *testing.T) {
	clock := cache.NewManualClock(t0)
	r := cache.NewReplica(clock, 0, 0)
	src := newMemSource(r, clock) // never in contact: lastContact stays zero
	p, err := pipeline.New(pipeline.Config{HMACSecret: testSecret, Clock: clock, Replica: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	st := NewService(p, r, src, clock, 0, nil).Status()
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
