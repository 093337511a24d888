package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/cache/bolt"
	"github.com/revokd/revokd/cache/postgres"
	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/systemd"
)

// storeFile is the embedded store's file name inside --data-dir.
const storeFile = "revokd.db"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o serveOptions
	f, code, done := parseServe(&o, args, stdout, stderr)
	if done {
		return code
	}
	log := newLogger(stderr, o.logLevel.value, o.logFormat.value)

	var dev *devMode
	if o.dev {
		var err error
		if dev, err = setUpDev(&o, log); err != nil {
			fmt.Fprintf(stderr, "revokd serve --dev: %v\n", err)
			return exitFail
		}
	}
	if o.socket == "" {
		o.socket = client.DefaultSocket()
	}
	pcfg := pipelineConfig(&o)
	if err := loadKeys(&o, &pcfg, log); err != nil {
		return f.usageError(stderr, "%v", err)
	}
	d := &daemonRun{opts: &o, log: log, stdout: stdout, dev: dev}
	if err := d.run(ctx, pcfg); err != nil {
		var ce configError
		if errors.As(err, &ce) {
			return f.usageError(stderr, "%v", ce.err)
		}
		log.Error("revokd stopped", "err", err)
		fmt.Fprintf(stderr, "revokd serve: %v\n", err)
		return exitFail
	}
	return exitOK
}

// parseServe parses serve's command line and environment into o and checks
// it. done is true when serve must exit with code (help, or a usage error).
func parseServe(o *serveOptions, args []string, stdout, stderr io.Writer) (f *cmdFlags, code int, done bool) {
	f = newServeFlags(o)
	if code, done := f.parse(args, stdout, stderr); done {
		return f, code, true
	}
	if f.NArg() > 0 {
		return f, f.usageError(stderr, "unexpected argument %q (serve takes only flags)", f.Arg(0)), true
	}
	if err := o.check(); err != nil {
		return f, f.usageError(stderr, "%v", err), true
	}
	return f, 0, false
}

// configError is a failure caused by the configuration given (a key that
// does not parse, say): serve exits 2 for it, as for a bad flag.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // the flag allows only valid levels
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// daemonRun is one run of the daemon, from configuration to exit.
type daemonRun struct {
	opts   *serveOptions
	log    *slog.Logger
	stdout io.Writer
	dev    *devMode
}

func (d *daemonRun) run(ctx context.Context, pcfg pipeline.Config) error {
	o := d.opts
	opts, err := d.options(pcfg)
	if err != nil {
		return err
	}
	// Before anything can take a while: SIGHUP's default is to end the
	// process, and a reload asked for during start-up must not.
	hup, stopHUP := notifyHUP()
	defer stopHUP()
	// New checks keys and settings before the socket or the store is
	// touched: a bad one fails with exit 2 and changes nothing.
	dm, err := daemon.New(opts)
	if err != nil {
		return configError{err}
	}
	defer func() {
		if err := dm.Close(); err != nil {
			d.log.Error("close", "err", err)
		}
	}()

	// The socket comes before the store, which Run opens: a second daemon
	// pointed at a live socket must fail on that, with that message, before
	// touching the store the first one holds. Checking a PostgreSQL schema
	// only reads, so it comes first: an old schema or a role without grants
	// is refused before "listening" is logged.
	if err := dm.CheckStore(ctx); err != nil {
		return err
	}
	ln, err := d.listen()
	if err != nil {
		return err
	}
	defer ln.Close()

	replica := dm.Replica()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(daemon.Part(ctx, "daemon", func(ctx context.Context) error { return dm.Run(ctx, ln) }))
	g.Go(daemon.Part(ctx, "readiness", func(ctx context.Context) error { return d.announceReady(ctx, replica) }))
	g.Go(daemon.Part(ctx, "reload", func(ctx context.Context) error { return d.reloadOnHUP(ctx, hup, dm, replica) }))
	g.Go(daemon.Part(ctx, "watchdog", func(ctx context.Context) error { return d.watchdog(ctx, opts.Clock, replica) }))
	if o.tokenCacheMB > 0 && !operatorSetMemoryLimit() {
		g.Go(daemon.Part(ctx, "memory-limit", func(ctx context.Context) error {
			return followMemoryLimit(ctx, int64(o.tokenCacheMB)<<20, replica, d.log)
		}))
	}
	err = g.Wait()
	if err == nil {
		d.log.Info("stopped", "socket", o.socket)
	}
	return err
}

// options turns serve's flags into the daemon's options. It touches
// nothing: finding the default data directory only reads the environment.
func (d *daemonRun) options(pcfg pipeline.Config) (daemon.Options, error) {
	o := d.opts
	opts := daemon.Options{
		Pipeline: pcfg,
		Server: daemon.Config{
			WriteUIDs:      o.writeUIDs,
			WriteGIDs:      o.writeGIDs,
			MaxConns:       o.maxConns,
			MaxConnsPerUID: o.maxConnsPerUID, // 0: half of MaxConns
		},
		Clock:      cache.SystemClock{},
		Logger:     d.log,
		Version:    revokdVersion(),
		StaleAfter: o.staleAfter,
	}
	opts.Backchannel = o.backchannel()
	opts.Signing = o.signing()
	if o.jwksURL != "" || o.oidcIssuer != "" {
		opts.RemoteKeys = o.fetchConfig(o.jwksURL, o.oidcIssuer)
	}
	if o.issuersFile != "" {
		var err error
		if opts.Issuers, err = readIssuers(o); err != nil {
			return opts, configError{err}
		}
	}
	if o.databaseURL != "" {
		opts.Postgres = &postgres.Config{
			URL:           o.databaseURL,
			Heartbeat:     o.heartbeat,
			PruneInterval: o.pruneInterval,
			Migrate:       o.migrate,
		}
		return opts, nil
	}
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = defaultDataDir("revokd"); err != nil {
			return opts, err
		}
	}
	opts.Bolt = &bolt.Config{Path: filepath.Join(dir, storeFile), PruneInterval: o.pruneInterval}
	return opts, nil
}

// listen takes the socket systemd passed (revokd.socket), if any, or opens
// --socket, turning "another daemon is serving there" into a message that
// says what to do.
func (d *daemonRun) listen() (net.Listener, error) {
	ln, activated, err := systemd.Listener()
	if err != nil {
		return nil, err
	}
	if activated {
		// systemd owns this socket: its path and mode, and removing it.
		d.opts.socket = ln.Addr().String()
		d.log.Info("listening on the socket systemd passed", "socket", d.opts.socket)
		return ln, nil
	}
	path := d.opts.socket
	ln, err = daemon.Listen(path, os.FileMode(d.opts.socketMode))
	if errors.Is(err, daemon.ErrInUse) {
		return nil, fmt.Errorf("another revokd is already serving on %s; stop it first, or give this one another --socket", path)
	}
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("listen on %s: %w (give a --socket in a directory you can write, or set XDG_RUNTIME_DIR)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	d.log.Info("listening", "socket", path, "mode", fmt.Sprintf("%#o", uint32(d.opts.socketMode)))
	return ln, nil
}

// announceReady waits for the first snapshot, then says the daemon is ready
// (and, in dev mode, how to try it). It then waits for the end, as the
// group's tasks do.
func (d *daemonRun) announceReady(ctx context.Context, replica *cache.Replica) error {
	select {
	case <-ctx.Done():
		return nil
	case <-replica.Loaded():
	}
	cutoffs, denials := replica.Sizes()
	d.log.Info("ready", "socket", d.opts.socket, "cutoffs", cutoffs, "denials", denials, "build", revokdVersion())
	if err := systemd.Ready(); err != nil {
		d.log.Warn("tell systemd the daemon is ready", "err", err)
	}
	if d.dev != nil {
		d.dev.printWelcome(d.stdout, d.opts.socket)
	}
	<-ctx.Done()
	d.log.Info("stopping: draining connections")
	if err := systemd.Stopping(); err != nil {
		d.log.Warn("tell systemd the daemon is stopping", "err", err)
	}
	return nil
}

// watchdog pings systemd's watchdog (WatchdogSec= in revokd.service) while
// the daemon holds a loaded replica. A stale replica still pings: the
// database being away is no fault a restart could fix, and a restart would
// throw away the revocations the daemon still enforces. Without a watchdog
// it just waits for the end.
func (d *daemonRun) watchdog(ctx context.Context, clock cache.Clock, replica *cache.Replica) error {
	err := systemd.Watchdog(ctx, clock, replica.Ready)
	if err != nil {
		// A missed ping is systemd's to judge; it is no reason to stop.
		d.log.Warn("systemd watchdog", "err", err)
	}
	<-ctx.Done()
	return nil
}
