package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/revokd/revokd/cache/bolt"
	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/daemon/pipeline"
)

// `revokd serve` exposes no pprof endpoint, so `revokd-bench profile` builds
// the daemon in this process, from the same packages and with the same
// wiring as serve with an embedded store, and profiles it while a separate
// `revokd-bench run` process loads it: the profile holds the daemon alone.

// runProfile is `revokd-bench profile`.
func runProfile(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs)
	framingName := fs.String("framing", "ndjson", "ndjson or http")
	alg := fs.String("alg", "HS256", "token algorithm: HS256, RS256, ES256 or EdDSA")
	cpuPath := fs.String("cpuprofile", "revokd-cpu.pprof", "write the daemon's CPU profile here")
	memPath := fs.String("memprofile", "revokd-allocs.pprof", "write the daemon's allocation profile here (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := parseFraming(*framingName)
	if err != nil {
		return err
	}
	if !slices.Contains(algorithms, *alg) {
		return fmt.Errorf("profile: unknown --alg %q (want one of %v)", *alg, algorithms)
	}
	if _, err := lf.config(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "revokd-profile-")
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	keys, err := MintKeys()
	if err != nil {
		return err
	}
	keyFiles, err := keys.WriteDir(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	socket := filepath.Join(dir, "revokd.sock")
	stop, err := startInProcessDaemon(ctx, keys, dir, socket, log)
	if err != nil {
		return err
	}
	defer stop()

	out, err := os.Create(*cpuPath)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer out.Close()
	if *memPath != "" {
		runtime.MemProfileRate = 64 << 10 // a sample every 64 KiB: cheap, and plenty over millions of requests
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	load, err := startChild("load", dir, self, "run", "--socket", socket, "--keys-dir", filepath.Dir(keyFiles.HMACSecret),
		"--framing", f.String(), "--alg", *alg, "--pid", fmt.Sprint(os.Getpid()),
		"--conns", fmt.Sprint(lf.conns), "--pipeline", fmt.Sprint(lf.depth), "--duration", lf.duration.String(),
		"--warmup", lf.warmup.String(), "--runs", fmt.Sprint(lf.runs), "--max-requests", fmt.Sprint(lf.maxRequests),
		"--seen", fmt.Sprint(lf.seen), "--revoked", fmt.Sprint(lf.revoked), "--seen-tokens", fmt.Sprint(lf.seenTokens),
		"--fresh-tokens", fmt.Sprint(lf.freshTokens), "--json", lf.jsonPath)
	if err != nil {
		pprof.StopCPUProfile()
		return err
	}
	select {
	case <-load.done:
	case <-ctx.Done():
		load.stop()
	}
	pprof.StopCPUProfile()
	fmt.Fprint(stdout, load.logTail())
	if load.err != nil {
		return fmt.Errorf("load generator: %w", load.err)
	}
	if *memPath != "" {
		if err := writeHeapProfile(*memPath); err != nil {
			return err
		}
	}
	log.Info("profiles written", "cpu", *cpuPath, "allocs", *memPath)
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("alloc profile: %w", err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("alloc profile: %w", err)
	}
	return f.Close()
}

// startInProcessDaemon assembles the daemon with daemon.New, as `revokd
// serve --data-dir` does, and serves on socket until the returned stop is
// called.
func startInProcessDaemon(ctx context.Context, keys *Keys, dir, socket string, log *slog.Logger) (func(), error) {
	var pems [][]byte
	for _, k := range []any{&keys.RSA.PublicKey, &keys.EC.PublicKey, keys.Ed.Public()} {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("encode public key: %w", err)
		}
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	d, err := daemon.New(daemon.Options{
		Pipeline: pipeline.Config{HMACSecret: keys.HMAC, PublicKeyPEMs: pems, Leeway: baselineLeeway},
		Logger:   log,
		Version:  "bench",
		Bolt:     &bolt.Config{Path: filepath.Join(dir, "revokd.db")},
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	ln, err := daemon.Listen(socket, 0o600)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var runErr error
	exited := make(chan struct{}) // Run ending early ends the wait below
	go func() { runErr = d.Run(ctx, ln); close(exited) }()
	stop := func() error {
		cancel()
		<-exited
		return errors.Join(runErr, d.Close())
	}
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := daemonReady(ctx, socket)
		if err == nil {
			return func() {
				if err := stop(); err != nil {
					log.Warn("in-process daemon", "err", err)
				}
			}, nil
		}
		select {
		case <-tick.C:
			continue
		case <-exited:
			err = fmt.Errorf("it stopped: %w", stop())
		case <-deadline.C:
			stop()
		case <-ctx.Done():
			stop()
		}
		return nil, fmt.Errorf("in-process daemon not ready: %w", err)
	}
}
