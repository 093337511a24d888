package daemon

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/revokd/revokd/daemon/pipeline"
)

// reloads counts reloads of the key files, for /metrics. It belongs to the
// Daemon, which may reload before Run has built the Service that reports it.
type reloads struct{ ok, failed atomic.Uint64 }

// Reload reads the key files again with load, and the signing key, and
// swaps the pipeline's keys for them (pipeline.Pipeline.Reload), then the
// signing key and the published key set: SIGHUP. A file that cannot be
// read or parsed is an error and the keys in use stay, the signing key
// too; either way the outcome is counted in revokd_reloads_total. With fetched keys there are no files to
// read: it returns pipeline.ErrRemoteKeys and counts nothing.
func (d *Daemon) Reload(load func() (pipeline.KeyMaterial, error)) error {
	switch {
	case d.opts.RemoteKeys != nil:
		return pipeline.ErrRemoteKeys
	case len(d.opts.Issuers) > 0:
		return errors.New("reload keys: the daemon trusts issuers, which ReloadIssuers reloads")
	}
	err := d.reload(load)
	if err != nil {
		d.reloads.failed.Add(1)
		return err
	}
	d.reloads.ok.Add(1)
	return nil
}

func (d *Daemon) reload(load func() (pipeline.KeyMaterial, error)) error {
	m, err := load()
	if err != nil {
		return fmt.Errorf("reload keys: %w", err)
	}
	if err := d.tokens.reload(d.p, m); err != nil {
		return fmt.Errorf("reload keys: %w", err)
	}
	return nil
}

// ReloadIssuers reads the issuers and their key files again with load
// and makes them the trusted issuers (pipeline.Pipeline.ReloadIssuers):
// SIGHUP with --issuers-file. An issuer whose fetch settings are
// unchanged keeps its fetched set; a new one's tokens answer unavailable
// until its first set. Anything that cannot be read, parsed or loaded is
// an error and the issuers in use stay; either way the outcome is counted
// in revokd_reloads_total.
func (d *Daemon) ReloadIssuers(load func() ([]Issuer, error)) error {
	if len(d.opts.Issuers) == 0 {
		return errors.New("reload issuers: the daemon was not started with issuers")
	}
	err := d.reloadIssuers(load)
	if err != nil {
		d.reloads.failed.Add(1)
		return err
	}
	d.reloads.ok.Add(1)
	return nil
}

func (d *Daemon) reloadIssuers(load func() ([]Issuer, error)) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	list, err := load()
	if err != nil {
		return fmt.Errorf("reload issuers: %w", err)
	}
	issuers, fresh, err := d.fetch.resolve(list, nil)
	if err != nil {
		return fmt.Errorf("reload issuers: %w", err)
	}
	if issuers, err = d.tokens.reloadIssuers(d.p, issuers); err != nil {
		return fmt.Errorf("reload issuers: %w", err)
	}
	d.fetch.adopt(fresh, issuers)
	return nil
}

// reloadStatuser is a Backend that counts reloads of the key files.
type reloadStatuser interface{ Reloads() (ok, failed uint64) }

// Reloads reports how many reloads of the key files succeeded and failed.
func (s *Service) Reloads() (ok, failed uint64) {
	if s.reloads == nil {
		return 0, 0
	}
	return s.reloads.ok.Load(), s.reloads.failed.Load()
}
