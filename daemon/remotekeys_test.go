package daemon

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/testwait"
)

// fakeIdP is an identity provider on loopback: discovery and a JWKS of
// ES256 keys, which a test rotates, takes down, or holds.
type fakeIdP struct {
	srv *httptest.Server

	mu        sync.Mutex
	keys      map[string]*ecdsa.PrivateKey
	issuer    string        // served in discovery; default the server's URL
	jwksQuery string        // added to the jwks_uri served in discovery
	down      bool          // answer 503
	hold      chan struct{} // when set, a JWKS request waits for it to close (or its own end)
	held      chan struct{} // told of each held request
	served    int           // good JWKS answers
}

func newFakeIdP(t *testing.T, kids ...string) *fakeIdP {
	t.Helper()
	p := &fakeIdP{keys: map[string]*ecdsa.PrivateKey{}, held: make(chan struct{}, 8)}
	for _, kid := range kids {
		p.addKey(t, kid)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		iss, query := p.issuer, p.jwksQuery
		p.mu.Unlock()
		if iss == "" {
			iss = p.srv.URL
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": p.srv.URL + "/jwks" + query})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		hold, down := p.hold, p.down
		p.mu.Unlock()
		if hold != nil {
			p.held <- struct{}{}
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		var set jose.JSONWebKeySet
		for kid, k := range p.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
		}
		p.served++
		json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIdP) addKey(t *testing.T, kid string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.keys[kid] = k
	p.mu.Unlock()
}

func (p *fakeIdP) removeKey(kid string) {
	p.mu.Lock()
	delete(p.keys, kid)
	p.mu.Unlock()
}

func (p *fakeIdP) set(f func(p *fakeIdP)) {
	p.mu.Lock()
	f(p)
	p.mu.Unlock()
}

// mint signs a token with kid's key; a kid the provider never had gets a
// fresh key.
func (p *fakeIdP) mint(t *testing.T, kid, sub string) string {
	t.Helper()
	p.mu.Lock()
	k := p.keys[kid]
	p.mu.Unlock()
	if k == nil {
		var err error
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": p.srv.URL, "sub": sub, "iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(48 * time.Hour).Unix(),
	})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer is a log sink tests read while the daemon writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

const (
	testRefresh = time.Hour
	testTimeout = 2 * time.Second
)

type remoteFixture struct {
	d     *Daemon
	clock *clocktest.Clock
	logs  *syncBuffer
	run   chan error // the keys' Run's end
}

// newRemoteDaemon assembles a daemon whose keys come from the provider by
// discovery, with its snapshot loaded. startKeys starts fetching.
func newRemoteDaemon(t *testing.T, idp *fakeIdP) *remoteFixture {
	t.Helper()
	return newRemoteFixture(t, Options{
		Pipeline: pipeline.Config{Issuer: idp.srv.URL, Leeway: testLeeway},
		RemoteKeys: &pipeline.RemoteKeysConfig{
			OIDCIssuer: idp.srv.URL,
			Refresh:    testRefresh,
			MinRefresh: 5 * time.Minute,
			Timeout:    testTimeout,
		},
	})
}

// newRemoteFixture assembles a daemon from opts on the fixture's clock,
// logs and a memSource, with its snapshot loaded; its keys are not
// fetched until startKeys.
func newRemoteFixture(t *testing.T, opts Options) *remoteFixture {
	t.Helper()
	f := &remoteFixture{clock: clocktest.New(t0), logs: &syncBuffer{}, run: make(chan error, 1)}
	opts.Clock, opts.Logger = f.clock, slog.New(slog.NewTextHandler(f.logs, nil))
	opts.Source = func(r *cache.Replica) (cache.Source, error) { return newMemSource(r, f.clock), nil }
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.replica.SetReady()
	f.d = d
	return f
}

func (f *remoteFixture) startKeys(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { f.run <- f.d.fetch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-f.run
	})
}

// waitFetches waits for the fetches counted in status to reach ok good
// and bad failed ones: the event itself, with no deadline of its own.
func (f *remoteFixture) waitFetches(t *testing.T, ok, bad uint64) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("%d good and %d failed key set fetches", ok, bad), func() bool {
		st := f.d.fetch.statuses()[0]
		return st.FetchesOK >= ok && st.FetchesError >= bad
	})
}

func (f *remoteFixture) reason(t *testing.T, tok string) string {
	t.Helper()
	r := f.d.svc.Validate(tok)
	if r.Active() {
		return "active"
	}
	return r.Reason
}

// TestRemoteKeysRotation: readiness and answers wait for the first set;
// a new kid validates after one unknown-kid refetch; a kid the provider
// drops stops validating at the next refresh, even for a token already in
// the verified-token cache.
func TestRemoteKeysRotation(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	f := newRemoteDaemon(t, idp)
	old := idp.mint(t, "k1", "alice")

	if got := f.reason(t, old); got != apitype.ReasonUnavailable {
		t.Errorf("before the first set: got %q, want unavailable", got)
	}
	if err := f.d.svc.Readiness(); err == nil {
		t.Error("ready before the first set, want not ready")
	}
	f.startKeys(t)
	<-f.d.replica.Loaded()
	if err := f.d.svc.Readiness(); err != nil {
		t.Errorf("after the first set: readiness %v, want ready", err)
	}
	if got := f.reason(t, old); got != "active" {
		t.Fatalf("token of k1: got %q, want active", got)
	}
	if got := f.reason(t, old); got != "active" { // now a cache hit
		t.Fatalf("token of k1 again: got %q, want active", got)
	}
	st := f.d.svc.Status()
	if st.JWKSURL != idp.srv.URL+"/jwks" || !st.JWKSFetched.Equal(t0) || st.JWKSError != "" {
		t.Errorf("status: got url %q fetched %v error %q, want %q, %v, none", st.JWKSURL, st.JWKSFetched, st.JWKSError, idp.srv.URL+"/jwks", t0)
	}

	idp.addKey(t, "k2")
	if got := f.reason(t, idp.mint(t, "k2", "bob")); got != "active" {
		t.Errorf("token of the new k2: got %q, want active after one refetch", got)
	}
	// The fetch counts itself just after it hands over the set, so wait
	// for the count before checking there was exactly one refetch.
	f.waitFetches(t, 2, 0)
	if got := f.d.fetch.statuses()[0].FetchesOK; got != 2 {
		t.Errorf("fetches: got %d, want 2 (start, one unknown-kid refetch)", got)
	}

	idp.removeKey("k1")
	f.clock.WaitForWaiters(1) // the refresh timer
	f.clock.Add(testRefresh)
	f.waitFetches(t, 3, 0)
	if got := f.reason(t, old); got != apitype.ReasonUnknownKey {
		t.Errorf("token of the removed k1 after a refresh: got %q, want unknown_key", got)
	}
}

// TestRemoteKeysProviderDown: a failed fetch keeps the last good set,
// shows in status, and a streak of failures logs once.
func TestRemoteKeysProviderDown(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	f := newRemoteDaemon(t, idp)
	tok := idp.mint(t, "k1", "alice")
	f.startKeys(t)
	<-f.d.replica.Loaded()

	idp.set(func(p *fakeIdP) { p.down = true })
	f.clock.WaitForWaiters(1)
	f.clock.Add(testRefresh)
	f.waitFetches(t, 1, 1)
	f.clock.WaitForWaiters(1) // the retry
	f.clock.Add(time.Second)
	f.waitFetches(t, 1, 2)
	if got := f.reason(t, tok); got != "active" {
		t.Errorf("with the provider down: got %q, want active (last good set kept)", got)
	}
	if st := f.d.svc.Status(); !strings.Contains(st.JWKSError, "503") || !st.JWKSFetched.Equal(t0) {
		t.Errorf("status while down: error %q fetched %v, want a 503 and the first set's time", st.JWKSError, st.JWKSFetched)
	}
	if got := f.logs.count("fetch JWKS failed"); got != 1 {
		t.Errorf("failure log lines after two failures: got %d, want 1", got)
	}

	idp.set(func(p *fakeIdP) { p.down = false })
	f.clock.WaitForWaiters(1)
	f.clock.Add(2 * time.Second)
	f.waitFetches(t, 2, 2)
	if st := f.d.svc.Status(); st.JWKSError != "" {
		t.Errorf("status once back: error %q, want none", st.JWKSError)
	}
	if got := f.logs.count("fetch JWKS succeeded again"); got != 1 {
		t.Errorf("recovery log lines: got %d, want 1", got)
	}

	reg := prometheus.NewRegistry()
	newMetrics(reg, f.d.svc, slog.New(slog.DiscardHandler))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range fams {
		for _, m := range fam.GetMetric() {
			name := fam.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != "issuer" { // the fixture's one issuer
					name += "/" + l.GetValue()
				}
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"revokd_jwks_fetches_total/ok":    2,
		"revokd_jwks_fetches_total/error": 2,
		"revokd_jwks_age_seconds":         0, // the set was fetched just now, by the test's clock
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("metric %s: got %v (present %v), want %v", name, g, ok, w)
		}
	}
}

// TestRemoteKeysSlowProvider: a validation with an unknown kid waits for
// the refetch at most the fetch timeout, then answers unknown_key; one
// refused by the rate limit answers at once.
func TestRemoteKeysSlowProvider(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	f := newRemoteDaemon(t, idp)
	f.startKeys(t)
	<-f.d.replica.Loaded()

	hold := make(chan struct{})
	defer close(hold)
	idp.set(func(p *fakeIdP) { p.hold = hold })
	got := make(chan string, 1)
	go func() { got <- f.d.svc.Validate(idp.mint(t, "k9", "mallory")).Reason }()
	<-idp.held
	f.clock.WaitForWaiters(3) // refresh, the fetch's timeout, the validation's wait
	f.clock.Add(testTimeout)
	if r := <-got; r != apitype.ReasonUnknownKey {
		t.Errorf("unknown kid with the provider stalled: got %q, want unknown_key", r)
	}
	f.waitFetches(t, 1, 1) // the stalled fetch gave up
	if r := f.reason(t, idp.mint(t, "k8", "mallory")); r != apitype.ReasonUnknownKey {
		t.Errorf("unknown kid within --jwks-min-refresh: got %q, want unknown_key", r)
	}
}

// TestRemoteKeysIssuerMismatch: a discovery document naming another issuer
// stops the keys for good, with an error that says so.
func TestRemoteKeysIssuerMismatch(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	idp.set(func(p *fakeIdP) { p.issuer = "https://evil.example" })
	f := newRemoteDaemon(t, idp)
	err := f.d.fetch.Run(context.Background())
	if !errors.Is(err, pipeline.ErrIssuerMismatch) || !strings.Contains(err.Error(), "https://evil.example") {
		t.Errorf("Run: got %v, want ErrIssuerMismatch naming the issuer found", err)
	}
	if f.d.replica.Ready() {
		t.Error("ready without keys")
	}
}

// TestRemoteKeysRediscovery: each timed refresh reads the discovery
// document again, so a new jwks_uri is followed; a document that later
// names another issuer fails that fetch, keeps the set in use and the
// daemon running, and shows in status.
func TestRemoteKeysRediscovery(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	f := newRemoteDaemon(t, idp)
	tok := idp.mint(t, "k1", "alice")
	f.startKeys(t)
	<-f.d.replica.Loaded()

	idp.set(func(p *fakeIdP) { p.jwksQuery = "?v=2" })
	f.clock.WaitForWaiters(1) // the refresh timer
	f.clock.Add(testRefresh)
	f.waitFetches(t, 2, 0)
	if got, want := f.d.svc.Status().JWKSURL, idp.srv.URL+"/jwks?v=2"; got != want {
		t.Errorf("jwks_url after a refresh: got %q, want the newly discovered %q", got, want)
	}

	idp.set(func(p *fakeIdP) { p.issuer = "https://evil.example" })
	f.clock.WaitForWaiters(1)
	f.clock.Add(testRefresh)
	f.waitFetches(t, 2, 1)
	if st := f.d.svc.Status(); !strings.Contains(st.JWKSError, "another issuer") {
		t.Errorf("status after a mismatched rediscovery: jwks_error %q, want it to name the mismatch", st.JWKSError)
	}
	if got := f.reason(t, tok); got != "active" {
		t.Errorf("token after a mismatched rediscovery: got %q, want active with the set kept", got)
	}
	select {
	case err := <-f.run:
		f.run <- err // for the cleanup
		t.Fatalf("the fetchers stopped after a mismatched rediscovery: %v", err)
	default:
	}
}

// TestRemoteKeysKidFetchRetried: an unknown-kid fetch that fails is
// retried with the backoff, as a timed one is, not at the next refresh an
// hour later: once the provider is back, the error clears and the new
// kid validates within seconds of the injected clock.
func TestRemoteKeysKidFetchRetried(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	f := newRemoteDaemon(t, idp)
	f.startKeys(t)
	<-f.d.replica.Loaded()

	idp.set(func(p *fakeIdP) { p.down = true })
	idp.addKey(t, "k2")
	tok := idp.mint(t, "k2", "bob")
	if got := f.reason(t, tok); got != apitype.ReasonUnknownKey {
		t.Fatalf("a new kid while the provider is down: got %q, want unknown_key", got)
	}
	f.waitFetches(t, 1, 1)
	idp.set(func(p *fakeIdP) { p.down = false })
	start := f.clock.Now()
	testwait.For(t, "the failed fetch to be retried", func() bool {
		f.clock.Add(time.Second)
		return f.d.fetch.statuses()[0].FetchesOK >= 2
	})
	if waited := f.clock.Now().Sub(start); waited >= testRefresh/2 {
		t.Errorf("the retry came %s after the failure, want it within the backoff, long before the %s refresh", waited, testRefresh)
	}
	if st := f.d.svc.Status(); st.JWKSError != "" {
		t.Errorf("status after the retry: error %q, want none", st.JWKSError)
	}
	if got := f.reason(t, tok); got != "active" {
		t.Errorf("the new kid after the retry: got %q, want active", got)
	}
}

// TestRemoteKeysLogoutUnknownKid: a logout token whose kid the fetched set
// lacks, even after the refetch or within its rate limit, is unavailable
// (503, sent again by the provider), not refused: the provider may have
// just rotated. A kid of a key on disk that names no key stays refused.
func TestRemoteKeysLogoutUnknownKid(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	f := newRemoteDaemon(t, idp)
	f.startKeys(t)
	<-f.d.replica.Loaded()
	v, ok := f.d.p.Verifier(idp.srv.URL)
	if !ok {
		t.Fatal("no verifier for the provider's issuer")
	}
	for _, kid := range []string{"new-1", "new-2"} { // the refetch, then the rate limit
		if _, reason := v.VerifySignature(idp.mint(t, kid, "alice")); reason != apitype.ReasonUnavailable {
			t.Errorf("kid %s the set lacks: reason %q, want unavailable", kid, reason)
		}
	}
	if _, reason := v.VerifySignature(idp.mint(t, "k1", "alice")); reason != "" {
		t.Errorf("kid k1: reason %q, want verified", reason)
	}
}
