package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/daemon/pipeline"
)

// Issuer is one trusted issuer as Options gives it (--issuers-file): the
// pipeline's, whose keys are on disk in Keys, or fetched as Fetch says.
type Issuer struct {
	pipeline.Issuer
	// Fetch, instead of Keys, fetches the issuer's keys from its identity
	// provider while Run runs. New fills in its Clock, Logger and Loaded.
	Fetch *pipeline.RemoteKeysConfig
}

// fetchers runs the RemoteKeys of every issuer whose keys are fetched. A
// reload keeps the fetcher of an issuer whose fetch settings did not
// change, with the set it holds, starts those of new ones and stops those
// of issuers no longer trusted.
type fetchers struct {
	clock  cache.Clock
	logger *slog.Logger

	mu     sync.Mutex
	byKey  map[fetchKey]*fetcher
	run    context.Context // Run's, once it runs; nil before
	wg     sync.WaitGroup
	failed chan error // the first failure of a fetcher New made
}

// fetchKey is what makes two issuers' fetches the same fetch.
type fetchKey struct {
	issuer string
	cfg    string
}

// fetcher is one issuer's RemoteKeys, and how to stop it.
type fetcher struct {
	issuer string
	keys   *pipeline.RemoteKeys
	cancel context.CancelFunc
	// release lets readiness stop waiting for its first set (nil for a
	// fetcher a reload made, which readiness never waits for): called
	// when a reload stops it, as its set will never come.
	release func()
}

func newFetchers(clock cache.Clock, logger *slog.Logger) *fetchers {
	return &fetchers{clock: clock, logger: logger, byKey: map[fetchKey]*fetcher{}, failed: make(chan error, 1)}
}

func keyOf(iss string, c *pipeline.RemoteKeysConfig) fetchKey {
	return fetchKey{iss, fmt.Sprint(c.JWKSURL, c.OIDCIssuer, c.Refresh, c.MinRefresh, c.Timeout)}
}

// resolve turns list into the pipeline's issuers, with a RemoteKeys for
// each one fetched: the one already running for the same fetch, or a new
// one, which loaded (if not nil) is called for once it holds a set. The
// new ones are returned; none is started.
func (f *fetchers) resolve(list []Issuer, loaded func() func()) ([]pipeline.Issuer, map[fetchKey]*fetcher, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]pipeline.Issuer, len(list))
	fresh := map[fetchKey]*fetcher{}
	for i, is := range list {
		out[i] = is.Issuer
		if is.Fetch == nil {
			continue
		}
		key := keyOf(is.Issuer.Issuer, is.Fetch)
		fr := f.byKey[key]
		if fr == nil {
			if fr = fresh[key]; fr == nil {
				cfg := *is.Fetch
				cfg.Clock, cfg.Logger = f.clock, f.logger.With("issuer", is.Issuer.Issuer)
				if loaded != nil {
					cfg.Loaded = loaded()
				}
				keys, err := pipeline.NewRemoteKeys(cfg)
				if err != nil {
					return nil, nil, fmt.Errorf("issuer %q: %w", is.Issuer.Issuer, err)
				}
				fr = &fetcher{issuer: is.Issuer.Issuer, keys: keys, release: cfg.Loaded}
				fresh[key] = fr
			}
		}
		out[i].RemoteKeys = fr.keys
	}
	return out, fresh, nil
}

// adopt makes fresh, and those of the fetchers in use that list still
// uses, the fetchers in use, and stops the rest. The fresh ones start now
// if Run runs, else when it does.
func (f *fetchers) adopt(fresh map[fetchKey]*fetcher, list []pipeline.Issuer) {
	used := map[*pipeline.RemoteKeys]bool{}
	for _, is := range list {
		used[is.RemoteKeys] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, fr := range f.byKey {
		if !used[fr.keys] {
			if fr.cancel != nil {
				fr.cancel()
			}
			if fr.release != nil {
				// Readiness must not wait for a set that will never come.
				fr.release()
			}
			delete(f.byKey, key)
		}
	}
	for key, fr := range fresh {
		f.byKey[key] = fr
		if f.run != nil && f.run.Err() == nil {
			f.start(fr, false)
		}
	}
}

// start runs fr until it is stopped or Run's context is done. A failure of
// a fetcher New made ends Run, as a provider that names another issuer
// must stop a daemon from starting on it; one a reload made is logged and
// leaves its issuer's tokens unavailable, the rest serving on.
func (f *fetchers) start(fr *fetcher, fatal bool) {
	ctx, cancel := context.WithCancel(f.run)
	fr.cancel = cancel
	f.wg.Go(func() {
		err := fr.keys.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		if !fatal {
			f.logger.Error("fetching the issuer's keys stopped; its tokens answer unavailable until the next reload", "issuer", fr.issuer, "err", err)
			return
		}
		select {
		case f.failed <- fmt.Errorf("issuer %q: %w", fr.issuer, err):
		default:
		}
	})
}

// Run runs every fetcher until ctx is done or one New made fails.
func (f *fetchers) Run(ctx context.Context) error {
	f.mu.Lock()
	f.run = ctx
	for _, fr := range f.byKey {
		f.start(fr, true)
	}
	f.mu.Unlock()
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case err = <-f.failed:
	}
	f.mu.Lock()
	for _, fr := range f.byKey {
		if fr.cancel != nil {
			fr.cancel()
		}
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

// statuses reports each fetched key set, by issuer.
func (f *fetchers) statuses() []issuerKeys {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []issuerKeys
	for _, fr := range f.byKey {
		out = append(out, issuerKeys{Issuer: fr.issuer, KeysStatus: fr.keys.Status()})
	}
	slices.SortFunc(out, func(a, b issuerKeys) int { return strings.Compare(a.Issuer, b.Issuer) })
	return out
}

// issuerKeys is the status of one issuer's fetched key set.
type issuerKeys struct {
	Issuer string
	pipeline.KeysStatus
}
