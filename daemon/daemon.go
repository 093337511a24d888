package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/cache/bolt"
	"github.com/revokd/revokd/cache/postgres"
	"github.com/revokd/revokd/daemon/pipeline"
)

// Options say how to assemble a Daemon. `revokd serve`, the load tool and
// the tests all build theirs from one, so the wiring cannot drift.
type Options struct {
	// Pipeline holds the keys and the validation rules. New fills in its
	// Clock, Replica and StaleAfter; its Leeway and MaxSessionAge are also
	// the replica's and the store's, so the three always agree.
	Pipeline pipeline.Config
	// RemoteKeys, if set, fetches the pipeline's keys from an identity
	// provider while Run runs; readiness then waits for the first good
	// set as well as the first snapshot. New fills in its Clock, Logger
	// and Loaded.
	RemoteKeys *pipeline.RemoteKeysConfig
	// Issuers, instead of the keys and issuer in Pipeline and RemoteKeys,
	// trusts several issuers (--issuers-file); readiness waits for the
	// first set of each whose keys are fetched. ReloadIssuers replaces
	// them.
	Issuers []Issuer
	// Server holds the socket's limits and access lists. New fills in its
	// Backend, Logger, Version and Clock.
	Server Config
	// Backchannel, if set, enables POST /v1/backchannel-logout; it needs
	// Pipeline.Issuer, whose keys verify the logout tokens.
	Backchannel *BackchannelConfig
	// Signing, if set, gives the daemon a signing key: it issues and
	// refreshes tokens (unless PublicOnly), and verifies and publishes the
	// key's public half. The privileged writes are then the daemon's own
	// uid's and root's, unless Server names the writers.
	Signing *SigningConfig

	Clock      cache.Clock   // default cache.SystemClock
	Logger     *slog.Logger  // default discards
	Version    string        // answered in client.VersionHeader and in status
	StaleAfter time.Duration // --stale-after: fail closed after this long without the store (0: never)

	// The store, exactly one of: PostgreSQL, the embedded bolt file (its
	// directory is created, private, if missing), or Source, which opens
	// any other (tests' fakes) to keep r in step. New fills in the
	// configs' Replica, Clock, Logger, Leeway and MaxSessionAge.
	Postgres *postgres.Config
	Bolt     *bolt.Config
	Source   func(r *cache.Replica) (cache.Source, error)
}

// Daemon is revokd assembled: the pipeline and the replica from New, and
// the store, the service and the server once Run opens the store.
type Daemon struct {
	opts     Options
	replica  *cache.Replica
	p        *pipeline.Pipeline
	fetch    *fetchers
	reloads  reloads
	tokens   *keys      // the signing key and the published keys
	reloadMu sync.Mutex // one reload of the issuers at a time

	src cache.Source // nil until open
	svc *Service
	srv *Server
}

// New checks opts and builds the pipeline and the replica. It touches
// neither the store nor any socket, so a bad key or setting fails before
// either: the caller can then take the socket, and only then Run opens the
// store, so a second daemon pointed at a live socket never touches the
// store the first one holds.
func New(opts Options) (*Daemon, error) {
	if n := btoi(opts.Postgres != nil) + btoi(opts.Bolt != nil) + btoi(opts.Source != nil); n != 1 {
		return nil, fmt.Errorf("daemon: %d stores given, want exactly one", n)
	}
	if opts.StaleAfter < 0 {
		return nil, fmt.Errorf("daemon: stale after %s is negative", opts.StaleAfter)
	}
	if opts.Backchannel != nil {
		b, err := checkBackchannel(*opts.Backchannel, opts.Pipeline, opts.Issuers)
		if err != nil {
			return nil, err
		}
		opts.Backchannel = &b
	}
	if opts.Clock == nil {
		opts.Clock = cache.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pc := opts.Pipeline
	replica := cache.NewReplica(opts.Clock, pc.MaxSessionAge, pc.Leeway)
	pc.Clock, pc.Replica, pc.StaleAfter = opts.Clock, replica, opts.StaleAfter
	fetch := newFetchers(opts.Clock, opts.Logger)
	var (
		fetched []pipeline.Issuer
		fresh   map[fetchKey]*fetcher
		err     error
	)
	switch {
	case len(opts.Issuers) > 0 && opts.RemoteKeys != nil:
		return nil, errors.New("daemon: give Issuers or RemoteKeys, not both")
	case len(opts.Issuers) > 0:
		if fetched, fresh, err = fetch.resolve(opts.Issuers, replica.HoldReady); err != nil {
			return nil, fmt.Errorf("validation settings: %w", err)
		}
		pc.Issuers = fetched
	case opts.RemoteKeys != nil:
		one := []Issuer{{Issuer: pipeline.Issuer{Issuer: pc.Issuer}, Fetch: opts.RemoteKeys}}
		if fetched, fresh, err = fetch.resolve(one, replica.HoldReady); err != nil {
			return nil, fmt.Errorf("validation settings: %w", err)
		}
		pc.RemoteKeys = fetched[0].RemoteKeys
	}
	tokens, sk, err := newKeys(opts.Signing, &pc)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(pc)
	if err != nil {
		return nil, fmt.Errorf("validation settings: %w", err)
	}
	if err := tokens.publish(tokens.published(&pc), sk); err != nil {
		p.Close()
		return nil, err
	}
	if opts.Signing != nil && len(opts.Server.WriteUIDs) == 0 && len(opts.Server.WriteGIDs) == 0 {
		opts.Server.WriteUIDs = defaultWriters()
	}
	fetch.adopt(fresh, fetched)
	return &Daemon{opts: opts, replica: replica, p: p, fetch: fetch, tokens: tokens}, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Issuers names the trusted issuers, in the order given; one empty name
// when iss is not checked.
func (d *Daemon) Issuers() []string { return d.p.Issuers() }

// Replica is the daemon's revocation state: ready and stale as it reports.
func (d *Daemon) Replica() *cache.Replica { return d.replica }

// open opens the store and builds the service and the server on it.
func (d *Daemon) open(ctx context.Context) error {
	o := d.opts
	pc := o.Pipeline
	switch {
	case o.Postgres != nil:
		cfg := *o.Postgres
		cfg.Replica, cfg.Clock, cfg.Logger = d.replica, o.Clock, o.Logger
		cfg.Leeway, cfg.MaxSessionAge = pc.Leeway, pc.MaxSessionAge
		src, err := postgres.Open(ctx, cfg)
		if err != nil {
			return fmt.Errorf("open PostgreSQL source: %w", err)
		}
		d.src = src
	case o.Bolt != nil:
		cfg := *o.Bolt
		cfg.Replica, cfg.Clock, cfg.Logger = d.replica, o.Clock, o.Logger
		cfg.Leeway, cfg.MaxSessionAge = pc.Leeway, pc.MaxSessionAge
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		src, err := bolt.OpenConfig(cfg)
		if err != nil {
			return err
		}
		d.src = src
	default:
		src, err := o.Source(d.replica)
		if err != nil {
			return fmt.Errorf("open source: %w", err)
		}
		d.src = src
	}
	d.svc = newService(d.p, d.replica, d.src, o.Clock, o.StaleAfter, pc.CutoffClaims)
	d.svc.fetch = d.fetch
	d.svc.tokens, d.svc.log = d.tokens, o.Logger
	if o.RemoteKeys == nil {
		d.svc.reloads = &d.reloads
	}
	sc := o.Server
	sc.Backend, sc.Logger, sc.Version, sc.Clock = d.svc, o.Logger, o.Version, o.Clock
	sc.Tokens = d.svc
	if b := o.Backchannel; b != nil {
		d.svc.logout = &backchannel{clientIDs: b.ClientIDs, maxAge: b.MaxAge, issuer: d.p.Verifier, cutoffValue: d.p.CutoffValue}
		sc.Logout = d.svc
	}
	d.srv = NewServer(sc)
	return nil
}

// CheckStore opens the store ahead of Run when opening it changes nothing:
// a PostgreSQL store without Migrate, whose Open only reads (the schema
// version and the role's privileges) and connects lazily. A caller that
// calls it before taking the socket refuses an old schema or a role without
// grants before it says it is listening, and a second daemon pointed at a
// live socket still touches nothing the first one holds: a read changes
// nothing. The bolt file (whose lock the first daemon holds) and a
// migration (which writes) are left for Run, after the socket. A database
// that cannot be reached yet is no error here either.
func (d *Daemon) CheckStore(ctx context.Context) error {
	if d.opts.Postgres == nil || d.opts.Postgres.Migrate || d.src != nil {
		return nil
	}
	return d.open(ctx)
}

// Run opens the store, unless CheckStore did, and serves ln until ctx is done, following the
// store and, under a staleness policy, logging when answers start and stop
// failing closed. It returns nil once ctx is done and every part has
// stopped, or the first part's failure, and has closed ln either way (which
// removes a socket made by Listen). Close must follow, whatever Run
// returned.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	if d.src == nil {
		if err := d.open(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(Part(ctx, "source", d.src.Run))
	g.Go(Part(ctx, "server", func(ctx context.Context) error { return d.srv.Serve(ctx, ln) }))
	g.Go(Part(ctx, "keys", d.fetch.Run))
	if d.opts.StaleAfter > 0 {
		g.Go(Part(ctx, "staleness", d.logStaleness))
	}
	return g.Wait()
}

// Close releases the store and the pipeline. Run must have returned.
func (d *Daemon) Close() error {
	d.p.Close()
	if d.src == nil {
		return nil
	}
	if err := d.src.Close(); err != nil {
		return fmt.Errorf("close source: %w", err)
	}
	return nil
}

// Part adapts run, one of a daemon's long-running parts, to an errgroup
// whose context is ctx: a part runs until ctx is done, so one that returns
// earlier, even with nil, is a failure that takes the others down with it.
// An error naming context.Canceled is how a part says it was stopped, and
// is none.
func Part(ctx context.Context, name string, run func(context.Context) error) func() error {
	return func() error {
		err := run(ctx)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			return fmt.Errorf("%s: %w", name, err)
		case ctx.Err() == nil:
			return fmt.Errorf("%s stopped unexpectedly", name)
		}
		return nil
	}
}
