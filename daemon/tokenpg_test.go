package daemon

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/cache/postgres"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
	"github.com/revokd/revokd/internal/pgtest"
	"github.com/revokd/revokd/internal/testwait"
)

// Two daemons on one PostgreSQL database, with one signing key and the
// injected clock, refresh one token at once, many times: the store lets
// exactly one refresh store the denial, so one gets a token and every
// other is reuse, which revokes the session on both daemons.
func TestRefreshReuseTwoDaemonsPostgres(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	// The store takes cutoffs by its own clock, the wall's: the sessions
	// start a minute before it.
	clock := clocktest.New(time.Now().Add(-time.Minute))
	key := signingKeyPEM(t, "ES256", false)
	start := func(name string, migrate bool) *Daemon {
		d, err := New(Options{
			Pipeline: pipeline.Config{Leeway: testLeeway},
			Signing:  &SigningConfig{Key: func() ([]byte, error) { return key, nil }, Rotation: true},
			Postgres: &postgres.Config{URL: url, Migrate: migrate},
			Clock:    clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := Listen(filepath.Join(shortDir(t), name+".sock"), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, ln) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon %s: %v", name, err)
			}
			d.Close()
		})
		<-d.replica.Loaded()
		return d
	}
	a := start("a", true)
	b := start("b", false)
	ctx := context.Background()
	tok, err := a.svc.Issue(ctx, apitype.IssueRequest{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.svc.Issue(ctx, apitype.IssueRequest{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}

	const perDaemon = 4
	answers := make(chan apitype.RefreshResponse, 2*perDaemon)
	var wg sync.WaitGroup
	for _, d := range []*Daemon{a, b} {
		for range perDaemon {
			wg.Go(func() {
				resp, err := d.svc.Refresh(ctx, apitype.RefreshRequest{Token: tok.Token})
				if err != nil {
					t.Errorf("refresh: %v", err)
				}
				answers <- resp
			})
		}
	}
	wg.Wait()
	close(answers)
	var won []apitype.RefreshResponse
	refused := map[string]int{}
	for r := range answers {
		if r.Token != "" {
			won = append(won, r)
		} else {
			refused[r.Reason]++
		}
	}
	if len(won) != 1 || refused[apitype.ReasonSessionRevoked] != 2*perDaemon-1 {
		t.Fatalf("%d refreshes of one token: %d got a token, the rest %v; want one, and %d session_revoked", 2*perDaemon, len(won), refused, 2*perDaemon-1)
	}
	// The session's end reaches both daemons through the store's feed.
	for name, d := range map[string]*Daemon{"a": a, "b": b} {
		testwait.For(t, "the session's end to reach daemon "+name, func() bool {
			return d.svc.Validate(won[0].Token).Reason == apitype.ReasonSessionRevoked
		})
		if r := d.svc.Validate(other.Token).Reason; r != "" {
			t.Errorf("daemon %s: the subject's other session %q, want active", name, r)
		}
	}
}
