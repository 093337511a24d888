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
	"time"

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
	clock := cache.SystemClock{}
	replica := cache.NewReplica(clock, o.maxSessionAge, o.leeway)

	// The pipeline asks on every answer whether the source has been silent
	// too long. It is built before the source is opened, so that a bad key
	// fails before the socket or the store is touched; the check is bound
	// to the source once there is one, before the first request.
	var stale func() bool
	pcfg.Clock, pcfg.Replica = clock, replica
	if o.staleAfter > 0 {
		pcfg.Stale = func() bool { return stale() }
	}
	p, err := pipeline.New(pcfg)
	if err != nil {
		return configError{fmt.Errorf("validation settings: %w", err)}
	}
	defer p.Close()

	// The socket comes first: a second daemon pointed at a live socket must
	// fail on that, with that message, before touching the store the first
	// one holds.
	ln, err := d.listen()
	if err != nil {
		return err
	}
	defer ln.Close()

	src, err := d.openSource(ctx, replica, clock)
	if err != nil {
		return err
	}
	defer func() {
		if err := src.Close(); err != nil {
			d.log.Error("close source", "err", err)
		}
	}()

	stale = daemon.StaleFunc(src, clock, o.staleAfter)
	svc := daemon.NewService(p, replica, src, clock, o.staleAfter, o.cutoffClaims.list)
	srv := daemon.NewServer(daemon.Config{
		Backend:        svc,
		Logger:         d.log,
		Version:        revokdVersion(),
		Clock:          clock,
		WriteUIDs:      o.writeUIDs,
		WriteGIDs:      o.writeGIDs,
		MaxConns:       o.maxConns,
		MaxConnsPerUID: o.maxConnsPerUID, // 0: half of MaxConns
	})

	g := newGroup(ctx)
	g.Go("source", src.Run)
	g.Go("server", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	g.Go("readiness", func(ctx context.Context) error { return d.announceReady(ctx, replica) })
	g.Go("watchdog", func(ctx context.Context) error { return d.watchdog(ctx, svc) })
	if o.tokenCacheMB > 0 && !operatorSetMemoryLimit() {
		g.Go("memory-limit", func(ctx context.Context) error {
			return followMemoryLimit(ctx, int64(o.tokenCacheMB)<<20, replica, d.log)
		})
	}
	if stale != nil {
		g.Go("staleness", func(ctx context.Context) error { return d.logStaleness(ctx, stale) })
	}
	err = g.Wait()
	if err == nil {
		d.log.Info("stopped", "socket", o.socket)
	}
	return err
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

func (d *daemonRun) openSource(ctx context.Context, replica *cache.Replica, clock cache.Clock) (cache.Source, error) {
	o := d.opts
	if o.databaseURL != "" {
		src, err := postgres.Open(ctx, postgres.Config{
			URL:           o.databaseURL,
			Replica:       replica,
			Clock:         clock,
			Logger:        d.log,
			Heartbeat:     o.heartbeat,
			PruneInterval: o.pruneInterval,
			Leeway:        o.leeway,
			MaxSessionAge: o.maxSessionAge,
			Migrate:       o.migrate,
		})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL source: %w", err)
		}
		return src, nil
	}
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = defaultDataDir("revokd"); err != nil {
			return nil, err
		}
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	src, err := bolt.OpenConfig(bolt.Config{
		Path:          filepath.Join(dir, storeFile),
		Replica:       replica,
		Clock:         clock,
		Logger:        d.log,
		MaxSessionAge: o.maxSessionAge,
		Leeway:        o.leeway,
		PruneInterval: o.pruneInterval,
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}

// announceReady waits for the first snapshot, then says the daemon is ready
// (and, in dev mode, how to try it). It then waits for the end, as the
// group's tasks do.
func (d *daemonRun) announceReady(ctx context.Context, replica *cache.Replica) error {
	// The Source interface has no "ready" signal: a short poll costs nothing
	// next to loading a snapshot.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !replica.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	t.Stop()
	cutoffs, denials := replica.Sizes()
	d.log.Info("ready", "socket", d.opts.socket, "cutoffs", cutoffs, "denials", denials, "version", revokdVersion())
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
func (d *daemonRun) watchdog(ctx context.Context, svc *daemon.Service) error {
	err := systemd.Watchdog(ctx, svc.Ready)
	if err != nil {
		// A missed ping is systemd's to judge; it is no reason to stop.
		d.log.Warn("systemd watchdog", "err", err)
	}
	<-ctx.Done()
	return nil
}

// logStaleness says when --stale-after starts failing answers closed and
// when it stops: every answer in between is "unavailable", and the log is
// where an operator looks for why.
func (d *daemonRun) logStaleness(ctx context.Context, stale func() bool) error {
	t := time.NewTicker(staleCheckEvery)
	defer t.Stop()
	was := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := stale()
		switch {
		case now && !was:
			d.log.Warn("no contact with the revocation store for longer than --stale-after: every validation answers unavailable until it is back",
				"stale_after", d.opts.staleAfter)
		case !now && was:
			d.log.Info("in contact with the revocation store again: validations answer normally")
		}
		was = now
	}
}

// staleCheckEvery is how often logStaleness looks; only the log waits for
// it, never an answer.
const staleCheckEvery = 250 * time.Millisecond
