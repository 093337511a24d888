package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
)

// runLoadCmd is `revokd-bench run`: load one server that is already running.
func runLoadCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs)
	socket := fs.String("socket", "", "the server's Unix socket")
	framingName := fs.String("framing", "ndjson", "ndjson or http")
	alg := fs.String("alg", "HS256", "token algorithm: HS256, RS256, ES256 or EdDSA")
	pid := fs.Int("pid", 0, "the server's PID, to report its CPU per request from /proc")
	keysDir := fs.String("keys-dir", "", "keys from `revokd-bench keys` that the server was started with")
	noCheck := fs.Bool("no-check", false, "the server is not revokd (an echo server): do not revoke, warm or check answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		return errors.New("run: --socket is required")
	}
	f, err := parseFraming(*framingName)
	if err != nil {
		return err
	}
	if !slices.Contains(algorithms, *alg) {
		return fmt.Errorf("run: unknown --alg %q (want one of %v)", *alg, algorithms)
	}
	cfg, err := lf.config()
	if err != nil {
		return err
	}
	var keys *Keys
	if *keysDir != "" {
		if keys, err = LoadKeys(*keysDir); err != nil {
			return err
		}
	} else {
		if !*noCheck {
			return errors.New("run: --keys-dir is required against revokd (make keys with `revokd-bench keys --dir DIR` and start revokd with the flags it prints), or pass --no-check")
		}
		if keys, err = MintKeys(); err != nil {
			return err
		}
	}
	t := &target{name: fmt.Sprintf("%s-%s", f, *alg), socket: *socket, framing: f, alg: *alg,
		setup: !*noCheck, check: !*noCheck}
	if *pid > 0 {
		t.pids = []int{*pid}
	}
	b := newBench(cfg, keys, log)
	if err := b.prepare(ctx, t); err != nil {
		return err
	}
	runs, err := b.alternate(ctx, []*target{t}, func(r runReport) {
		log.Info("run done", "target", r.Target, "round", r.Round, "rps", int(r.RPS), "p50_us", r.P50)
	})
	if err != nil {
		return err
	}
	settings := lf.settings()
	settings["framing"], settings["alg"], settings["socket"] = f.String(), *alg, *socket
	return emit(stdout, report{Settings: settings, Runs: runs, Summary: summarize(runs)}, lf.jsonPath)
}

// emit prints the report's tables, and writes its JSON when asked.
func emit(w io.Writer, rep report, jsonPath string) error {
	fmt.Fprintln(w, "\n== runs (in the order they ran)")
	if err := writeRuns(w, rep.Runs); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n== per target: median [min–max] across runs")
	if err := writeSummary(w, rep.Summary); err != nil {
		return err
	}
	if len(rep.Checks) > 0 {
		fmt.Fprintln(w, "\n== targets: per-round ratios, judged on the median")
		if err := writeChecks(w, rep.Checks); err != nil {
			return err
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if jsonPath == "" {
		return nil
	}
	f, err := os.Create(jsonPath)
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	if err := writeJSON(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
