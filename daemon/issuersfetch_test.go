package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/testwait"
)

// fetchedIssuer trusts the provider's issuer, its keys fetched by
// discovery every refresh.
func fetchedIssuer(p *fakeIdP, refresh time.Duration) Issuer {
	return Issuer{
		Issuer: pipeline.Issuer{Issuer: p.srv.URL},
		Fetch: &pipeline.RemoteKeysConfig{
			OIDCIssuer: p.srv.URL,
			Refresh:    refresh,
			MinRefresh: 5 * time.Minute,
			Timeout:    testTimeout,
		},
	}
}

// newIssuersRemoteDaemon assembles a daemon trusting list, with its
// snapshot loaded; startKeys starts fetching.
func newIssuersRemoteDaemon(t *testing.T, list []Issuer) *remoteFixture {
	t.Helper()
	return newRemoteFixture(t, Options{Pipeline: pipeline.Config{Leeway: testLeeway}, Issuers: list})
}

// keysOf is the status of iss's fetched key set, if it has one.
func (f *remoteFixture) keysOf(iss string) (pipeline.KeysStatus, bool) {
	for _, st := range f.d.fetch.statuses() {
		if st.Issuer == iss {
			return st.KeysStatus, true
		}
	}
	return pipeline.KeysStatus{}, false
}

// waitFetchesOf waits for iss's good fetches to reach ok.
func (f *remoteFixture) waitFetchesOf(t *testing.T, iss string, ok uint64) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("%d good fetches of %s's keys", ok, iss), func() bool {
		st, found := f.keysOf(iss)
		return found && st.FetchesOK >= ok
	})
}

// fetchedIssuers are the issuers whose key sets the daemon fetches.
func (f *remoteFixture) fetchedIssuers() []string {
	var out []string
	for _, st := range f.d.fetch.statuses() {
		out = append(out, st.Issuer)
	}
	return out
}

// TestIssuersFetched: two issuers whose keys come from two providers, with
// the same subject at both. Readiness waits for both first sets; status
// and metrics list both. A reload adds a third issuer (its tokens
// unavailable until its first set, readiness untouched) and removes one,
// whose fetcher stops and whose tokens are bad_issuer at once; the kept
// issuer's fetcher goes on with the set it holds.
func TestIssuersFetched(t *testing.T) {
	idpA, idpB, idpC := newFakeIdP(t, "a1"), newFakeIdP(t, "b1"), newFakeIdP(t, "c1")
	issuerA, issuerB, issuerC := idpA.srv.URL, idpB.srv.URL, idpC.srv.URL
	tokA, tokB, tokC := idpA.mint(t, "a1", "alice"), idpB.mint(t, "b1", "alice"), idpC.mint(t, "c1", "alice")
	hold := make(chan struct{})
	defer close(hold)
	idpB.set(func(p *fakeIdP) { p.hold = hold })
	f := newIssuersRemoteDaemon(t, []Issuer{fetchedIssuer(idpA, testRefresh), fetchedIssuer(idpB, testRefresh)})

	f.startKeys(t)
	f.waitFetchesOf(t, issuerA, 1)
	<-idpB.held
	if err := f.d.svc.Readiness(); err == nil {
		t.Error("ready with B's first set still on its way, want not ready")
	}
	if got := f.reason(t, tokB); got != apitype.ReasonUnavailable {
		t.Errorf("B's token before B's first set: got %q, want unavailable", got)
	}
	idpB.set(func(p *fakeIdP) { p.hold = nil })
	hold <- struct{}{} // lets the held request go
	<-f.d.replica.Loaded()
	if err := f.d.svc.Readiness(); err != nil {
		t.Errorf("after both first sets: readiness %v, want ready", err)
	}
	for name, tok := range map[string]string{"A": tokA, "B": tokB} {
		if got := f.reason(t, tok); got != "active" {
			t.Errorf("%s's token: got %q, want active", name, got)
		}
	}

	t.Run("status", func(t *testing.T) {
		st := statusJSON(t, f.d.svc)
		if st.JWKSURL != "" || !st.JWKSFetched.IsZero() {
			t.Errorf("status gives a key set inline (%q, %v), want each by issuer", st.JWKSURL, st.JWKSFetched)
		}
		want := []string{issuerA, issuerB}
		slices.Sort(want)
		if len(st.Issuers) != len(want) {
			t.Fatalf("status issuers: %+v, want %v", st.Issuers, want)
		}
		for i, ks := range st.Issuers {
			if ks.Issuer != want[i] || ks.JWKSURL != want[i]+"/jwks" || !ks.JWKSFetched.Equal(t0) || ks.JWKSError != "" {
				t.Errorf("status issuers[%d]: %+v, want %s, fetched at %v, no error", i, ks, want[i], t0)
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		got := keyMetrics(t, f.d.svc)
		for _, iss := range []string{issuerA, issuerB} {
			for name, want := range map[string]float64{
				"revokd_jwks_fetches_total/" + iss + "/ok":    1,
				"revokd_jwks_fetches_total/" + iss + "/error": 0,
				"revokd_jwks_age_seconds/" + iss:              0,
			} {
				if g, ok := got[name]; !ok || g != want {
					t.Errorf("metric %s: got %v (present %v), want %v", name, g, ok, want)
				}
			}
		}
	})

	// B's token is in the verified-token cache; a refetch of B's keys,
	// started by a kid B's set lacks, is held at B's provider.
	if got := f.reason(t, tokB); got != "active" {
		t.Fatalf("B's token again: got %q, want active", got)
	}
	idpB.set(func(p *fakeIdP) { p.hold = hold })
	refetch := make(chan string, 1)
	unknownKid := idpB.mint(t, "b9", "mallory")
	go func() { refetch <- f.d.svc.Validate(unknownKid).Reason }()
	<-idpB.held
	holdC := make(chan struct{})
	defer close(holdC)
	idpC.set(func(p *fakeIdP) { p.hold = holdC })

	t.Run("reload adds C, removes B", func(t *testing.T) {
		err := f.d.ReloadIssuers(func() ([]Issuer, error) {
			return []Issuer{fetchedIssuer(idpA, testRefresh), fetchedIssuer(idpC, testRefresh)}, nil
		})
		if err != nil {
			t.Fatalf("ReloadIssuers: %v", err)
		}
		// B's fetcher stopped: the fetch it had under way was cut off, and
		// the validation waiting for it answers without the clock moving.
		var reason string
		testwait.For(t, "the validation waiting on B's cut-off fetch", func() bool {
			select {
			case reason = <-refetch:
				return true
			default:
				return false
			}
		})
		if reason != apitype.ReasonUnknownKey {
			t.Errorf("token of an unknown kid at B: got %q, want unknown_key", reason)
		}
		if got := f.reason(t, tokB); got != apitype.ReasonBadIssuer {
			t.Errorf("B's cached token after B was removed: got %q, want bad_issuer", got)
		}
		if got := f.reason(t, tokA); got != "active" {
			t.Errorf("A's token: got %q, want active at once (A's fetcher and set kept)", got)
		}
		if st, _ := f.keysOf(issuerA); st.FetchesOK != 1 {
			t.Errorf("A's fetches: %d, want 1 (its fetcher kept, not started again)", st.FetchesOK)
		}
		<-idpC.held
		if got := f.reason(t, tokC); got != apitype.ReasonUnavailable {
			t.Errorf("C's token before C's first set: got %q, want unavailable", got)
		}
		if err := f.d.svc.Readiness(); err != nil {
			t.Errorf("readiness while the new C's first set is on its way: %v, want ready", err)
		}
		idpC.set(func(p *fakeIdP) { p.hold = nil })
		holdC <- struct{}{}
		f.waitFetchesOf(t, issuerC, 1)
		if got := f.reason(t, tokC); got != "active" {
			t.Errorf("C's token after C's first set: got %q, want active", got)
		}
		want := []string{issuerA, issuerC}
		slices.Sort(want)
		if got := f.fetchedIssuers(); !slices.Equal(got, want) {
			t.Errorf("fetched key sets: %v, want %v", got, want)
		}
		if got := keyMetrics(t, f.d.svc); got["revokd_jwks_age_seconds/"+issuerB] != 0 || len(got) != 6 {
			t.Errorf("metrics after B was removed: %v, want A's and C's only", got)
		}
		if ok, failed := f.d.svc.Reloads(); ok != 1 || failed != 0 {
			t.Errorf("reloads: %d ok, %d failed; want 1, 0", ok, failed)
		}
	})

	t.Run("a failed reload changes nothing", func(t *testing.T) {
		for _, load := range []func() ([]Issuer, error){
			func() ([]Issuer, error) { return nil, errors.New("issuers file: unexpected end of JSON input") },
			func() ([]Issuer, error) {
				return []Issuer{fetchedIssuer(idpA, testRefresh), fetchedIssuer(idpB, testRefresh), fetchedIssuer(idpA, testRefresh)}, nil
			},
			func() ([]Issuer, error) {
				bad := fetchedIssuer(idpB, testRefresh)
				bad.Fetch.OIDCIssuer = "http://id.example.com" // not https, not loopback
				return []Issuer{fetchedIssuer(idpA, testRefresh), bad}, nil
			},
		} {
			if err := f.d.ReloadIssuers(load); err == nil {
				t.Fatal("ReloadIssuers succeeded, want an error")
			}
		}
		if ok, failed := f.d.svc.Reloads(); ok != 1 || failed != 3 {
			t.Errorf("reloads: %d ok, %d failed; want 1, 3", ok, failed)
		}
		for name, tok := range map[string]string{"A": tokA, "C": tokC} {
			if got := f.reason(t, tok); got != "active" {
				t.Errorf("%s's token: got %q, want active", name, got)
			}
		}
		if got := f.reason(t, tokB); got != apitype.ReasonBadIssuer {
			t.Errorf("B's token: got %q, want bad_issuer", got)
		}
		want := []string{issuerA, issuerC}
		slices.Sort(want)
		if got := f.fetchedIssuers(); !slices.Equal(got, want) {
			t.Errorf("fetched key sets: %v, want %v (none started for a failed reload)", got, want)
		}
	})

	t.Run("changed fetch settings start a new fetcher", func(t *testing.T) {
		idpC.set(func(p *fakeIdP) { p.hold = holdC })
		err := f.d.ReloadIssuers(func() ([]Issuer, error) {
			return []Issuer{fetchedIssuer(idpA, testRefresh), fetchedIssuer(idpC, 2*testRefresh)}, nil
		})
		if err != nil {
			t.Fatalf("ReloadIssuers: %v", err)
		}
		<-idpC.held
		if st, _ := f.keysOf(issuerC); st.FetchesOK != 0 {
			t.Errorf("C's fetches with new settings: %d, want 0 before its first", st.FetchesOK)
		}
		if got := f.reason(t, tokC); got != apitype.ReasonUnavailable {
			t.Errorf("C's token before the new fetcher's first set: got %q, want unavailable", got)
		}
		idpC.set(func(p *fakeIdP) { p.hold = nil })
		holdC <- struct{}{}
		f.waitFetchesOf(t, issuerC, 1)
		if got := f.reason(t, tokC); got != "active" {
			t.Errorf("C's token: got %q, want active", got)
		}
		if got := len(f.fetchedIssuers()); got != 2 {
			t.Errorf("fetched key sets: %d, want 2 (C's old fetcher stopped)", got)
		}
	})
}

// keyMetrics gathers the key set metrics, named metric/issuer[/result].
func keyMetrics(t *testing.T, svc *Service) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	newMetrics(reg, svc, slog.New(slog.DiscardHandler))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range fams {
		if !strings.HasPrefix(fam.GetName(), "revokd_jwks_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			name := fam.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return got
}

// TestIssuersReloadBeforeReady: readiness waits for the first set of each
// issuer fetched from the start; a reload that removes such an issuer
// before its set came, or replaces its fetcher, must not leave readiness
// waiting for a fetcher that no longer runs.
func TestIssuersReloadBeforeReady(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    func(idpB *fakeIdP) []Issuer // what the reload trusts besides A
	}{
		{"B removed", func(*fakeIdP) []Issuer { return nil }},
		{"B's fetch settings changed", func(idpB *fakeIdP) []Issuer { return []Issuer{fetchedIssuer(idpB, 2*testRefresh)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idpA, idpB := newFakeIdP(t, "a1"), newFakeIdP(t, "b1")
			idpB.set(func(p *fakeIdP) { p.down = true })
			f := newIssuersRemoteDaemon(t, []Issuer{fetchedIssuer(idpA, testRefresh), fetchedIssuer(idpB, testRefresh)})
			f.startKeys(t)
			f.waitFetchesOf(t, idpA.srv.URL, 1)
			testwait.For(t, "B's first fetch to fail", func() bool {
				st, _ := f.keysOf(idpB.srv.URL)
				return st.FetchesError >= 1
			})
			if err := f.d.svc.Readiness(); err == nil {
				t.Fatal("ready without B's first set, want not ready")
			}
			err := f.d.ReloadIssuers(func() ([]Issuer, error) {
				return append([]Issuer{fetchedIssuer(idpA, testRefresh)}, tc.b(idpB)...), nil
			})
			if err != nil {
				t.Fatalf("ReloadIssuers: %v", err)
			}
			testwait.For(t, "readiness once the fetcher it waited for is gone", func() bool {
				return f.d.svc.Readiness() == nil
			})
			if got := f.reason(t, idpA.mint(t, "a1", "alice")); got != "active" {
				t.Errorf("A's token: got %q, want active", got)
			}
		})
	}
}

// TestIssuersStatusOneFetched: with several issuers, a fetched key set is
// listed by issuer even when it is the only one fetched; the one issuer of
// the one-issuer flags, or of a file of one entry, has it inline.
func TestIssuersStatusOneFetched(t *testing.T) {
	idp := newFakeIdP(t, "k1")
	static := Issuer{Issuer: pipeline.Issuer{Issuer: "https://static.example", Keys: pipeline.KeyMaterial{HMACSecret: testSecret}}}
	for _, tc := range []struct {
		name     string
		list     []Issuer
		byIssuer bool
	}{
		{"two issuers, one fetched", []Issuer{static, fetchedIssuer(idp, testRefresh)}, true},
		{"one issuer, fetched", []Issuer{fetchedIssuer(idp, testRefresh)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newIssuersRemoteDaemon(t, tc.list)
			f.startKeys(t)
			<-f.d.replica.Loaded()
			st := statusJSON(t, f.d.svc)
			want := apitype.KeySetStatus{JWKSURL: idp.srv.URL + "/jwks", JWKSFetched: t0}
			if tc.byIssuer {
				want.Issuer = idp.srv.URL
				if st.JWKSURL != "" || len(st.Issuers) != 1 || st.Issuers[0] != want {
					t.Errorf("status: inline %+v, by issuer %+v; want only %+v by issuer", st.KeySetStatus, st.Issuers, want)
				}
				return
			}
			if st.KeySetStatus != want || len(st.Issuers) != 0 {
				t.Errorf("status: inline %+v, by issuer %+v; want %+v inline", st.KeySetStatus, st.Issuers, want)
			}
		})
	}
}
