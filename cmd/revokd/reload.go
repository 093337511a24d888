package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/systemd"
)

// reloadOnHUP reloads the key files, or the issuers file and the key files
// it names, on each SIGHUP until ctx is done
// (systemctl reload, through ExecReload= in revokd.service). The socket
// and its connections are untouched: only the pipeline's keys change. hup
// was registered before the daemon started, so an early SIGHUP is queued
// rather than killing the process.
func (d *daemonRun) reloadOnHUP(ctx context.Context, hup <-chan os.Signal, dm *daemon.Daemon, replica *cache.Replica) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		// systemd is told only once it has heard READY=1: READY=1 at the
		// end of a reload must not announce a daemon that is not ready.
		announced := isDone(replica.Loaded())
		if announced {
			if err := systemd.Reloading(); err != nil {
				d.log.Warn("tell systemd the daemon is reloading", "err", err)
			}
		}
		var err error
		if d.opts.issuersFile != "" {
			err = dm.ReloadIssuers(func() ([]daemon.Issuer, error) { return readIssuers(d.opts) })
		} else {
			err = dm.Reload(func() (pipeline.KeyMaterial, error) { return readKeyFiles(d.opts, d.log) })
		}
		switch {
		case errors.Is(err, pipeline.ErrRemoteKeys):
			// The fetched set follows the provider on its own (--jwks-refresh
			// and unknown-kid refetches); SIGHUP does not force a fetch.
			d.log.Info("SIGHUP: keys are fetched from the identity provider; nothing to reload")
		case err != nil:
			d.log.Error("SIGHUP: reload failed; keeping the keys in use", "err", err)
		case d.opts.issuersFile != "":
			d.log.Info("SIGHUP: issuers and their keys reloaded", "issuers", len(dm.Issuers()))
		default:
			d.log.Info("SIGHUP: keys reloaded")
		}
		if announced {
			if err := systemd.Ready(); err != nil {
				d.log.Warn("tell systemd the daemon is ready", "err", err)
			}
		}
	}
}

// isDone reports whether ch is closed, without waiting.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// notifyHUP registers for SIGHUP; stop undoes it.
func notifyHUP() (hup chan os.Signal, stop func()) {
	hup = make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}
