package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/revokd/revokd/internal/pgcluster"
)

// Target names in the order each round runs them.
const (
	tEchoNDJSON   = "echo-ndjson"
	tRevokdNDJSON = "revokd-ndjson"
	tEchoHTTP     = "echo-http"
	tRevokdHTTP   = "revokd-http"
	tPG           = "pg-ndjson"
	tRedis        = "redis-ndjson"
)

func algTarget(alg string) string { return tRevokdNDJSON + "-" + alg }

// allTargets lists every target compare knows, in round order.
func allTargets() []string {
	names := []string{tEchoNDJSON, tRevokdNDJSON, tEchoHTTP, tRevokdHTTP, tPG, tRedis}
	for _, alg := range algorithms[1:] {
		names = append(names, algTarget(alg))
	}
	return names
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// compareFlags are compare's own options.
type compareFlags struct {
	revokd     string
	revokdArgs stringList
	targets    string
	redis      string
	workDir    string
	keep       bool
}

// runCompare is `revokd-bench compare`.
func runCompare(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs)
	var cf compareFlags
	fs.StringVar(&cf.revokd, "revokd", "", "path to the revokd binary; without it only the baselines run")
	fs.Var(&cf.revokdArgs, "revokd-arg", "extra argument for `revokd serve` (repeatable)")
	fs.StringVar(&cf.targets, "targets", strings.Join(allTargets(), ","), "comma-separated targets to run")
	fs.StringVar(&cf.redis, "redis", "auto", "auto: run the Redis baseline when redis-server is on PATH; off: skip it")
	fs.StringVar(&cf.workDir, "work-dir", "", "directory for keys, sockets, logs and the embedded store (default: a new temporary one)")
	fs.BoolVar(&cf.keep, "keep", false, "keep the work dir afterwards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := lf.config()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, name := range strings.Split(cf.targets, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allTargets(), name) {
			return fmt.Errorf("compare: unknown target %q (known: %s)", name, strings.Join(allTargets(), ","))
		}
		want[name] = true
	}

	env, err := newCompareEnv(cf, log)
	if err != nil {
		return err
	}
	defer env.close()

	b := newBench(cfg, env.keys, log)
	targets, notes, err := env.start(ctx, b, want, cfg.conns)
	if err != nil {
		return err
	}
	for _, t := range targets {
		log.Info("preparing", "target", t.name)
		if err := b.prepare(ctx, t); err != nil {
			return err
		}
	}
	runs, err := b.alternate(ctx, targets, func(r runReport) {
		log.Info("run done", "target", r.Target, "round", r.Round, "rps", int(r.RPS), "p50_us", r.P50, "errors", r.Errors, "mismatches", r.Mismatches)
	})
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Mismatches > 0 || r.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%s round %d: %d errors, %d answers other than the mix expected", r.Target, r.Round, r.Errors, r.Mismatches))
		}
		if r.FreshReused > 0 {
			notes = append(notes, fmt.Sprintf("%s round %d: %d fresh requests reused a token (raise --fresh-tokens)", r.Target, r.Round, r.FreshReused))
		}
	}
	settings := lf.settings()
	settings["targets"] = cf.targets
	rep := report{Settings: settings, Runs: runs, Summary: summarize(runs), Checks: judgeTargets(runs, env.skipped), Notes: notes}
	return emit(stdout, rep, lf.jsonPath)
}

// compareEnv is everything compare starts, and stops again.
type compareEnv struct {
	cf       compareFlags
	log      *slog.Logger
	dir      string
	ownsDir  bool
	keys     *Keys
	keyFiles KeyFiles
	self     string // this binary, re-executed for the baselines
	children []*child
	cleanups []func()
	skipped  map[string]string // target → why it did not run
}

func newCompareEnv(cf compareFlags, log *slog.Logger) (*compareEnv, error) {
	e := &compareEnv{cf: cf, log: log, dir: cf.workDir, skipped: map[string]string{}}
	var err error
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "revokd-bench-"); err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
		e.ownsDir = true
	} else if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	if e.self, err = os.Executable(); err != nil {
		e.close()
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	if e.keys, err = MintKeys(); err != nil {
		e.close()
		return nil, err
	}
	if e.keyFiles, err = e.keys.WriteDir(filepath.Join(e.dir, "keys")); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *compareEnv) close() {
	for i := len(e.children) - 1; i >= 0; i-- {
		if err := e.children[i].stop(); err != nil {
			e.log.Warn("stop", "child", e.children[i].name, "err", err)
		}
	}
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	if e.ownsDir && !e.cf.keep {
		os.RemoveAll(e.dir)
	} else {
		e.log.Info("work dir kept", "dir", e.dir)
	}
}

func (e *compareEnv) sock(name string) string { return filepath.Join(e.dir, name+".sock") }

// spawn starts a child and waits until ready says so.
func (e *compareEnv) spawn(ctx context.Context, name string, ready func() error, path string, args ...string) (*child, error) {
	c, err := startChild(name, e.dir, path, args...)
	if err != nil {
		return nil, err
	}
	e.children = append(e.children, c)
	if err := c.waitReady(ctx, time.Minute, ready); err != nil {
		return nil, err
	}
	return c, nil
}

// start brings up every wanted server and returns the targets in round
// order, with notes on what was skipped and why.
func (e *compareEnv) start(ctx context.Context, b *bench, want map[string]bool, conns int) ([]*target, []string, error) {
	var notes []string
	skip := func(name, why string) {
		if want[name] {
			e.skipped[name] = why
			notes = append(notes, name+" skipped: "+why)
		}
	}
	byName := map[string]*target{}
	keysDir := filepath.Dir(e.keyFiles.HMACSecret)

	// revokd first: the echo servers answer as many bytes as it does.
	answerBytes := 0
	wantRevokd := false
	for name := range want {
		wantRevokd = wantRevokd || strings.HasPrefix(name, "revokd-")
	}
	if wantRevokd && e.cf.revokd == "" {
		for _, name := range allTargets() {
			if strings.HasPrefix(name, "revokd-") {
				skip(name, "no --revokd binary given")
			}
		}
		wantRevokd = false
	}
	if wantRevokd {
		sock := e.sock("revokd")
		args := append([]string{"serve", "--socket", sock, "--data-dir", filepath.Join(e.dir, "revokd-data")}, e.keyFiles.ServeArgs()...)
		args = append(args, e.cf.revokdArgs...)
		c, err := e.spawn(ctx, "revokd", func() error { return daemonReady(ctx, sock) }, e.cf.revokd, args...)
		if err != nil {
			return nil, nil, err
		}
		if answerBytes, err = probeAnswer(ctx, b, sock); err != nil {
			return nil, nil, err
		}
		pids := []int{c.pid()}
		byName[tRevokdNDJSON] = &target{name: tRevokdNDJSON, socket: sock, framing: framingNDJSON, alg: "HS256", pids: pids, setup: true, check: true}
		byName[tRevokdHTTP] = &target{name: tRevokdHTTP, socket: sock, framing: framingHTTP, alg: "HS256", pids: pids, setup: true, check: true}
		for _, alg := range algorithms[1:] {
			byName[algTarget(alg)] = &target{name: algTarget(alg), socket: sock, framing: framingNDJSON, alg: alg, pids: pids, setup: true, check: true}
		}
	}
	if answerBytes == 0 {
		answerBytes = estimateAnswer(b)
	}

	for _, f := range []framing{framingNDJSON, framingHTTP} {
		name := "echo-" + f.String()
		if !want[name] {
			continue
		}
		sock := e.sock(name)
		c, err := e.spawn(ctx, name, func() error { return socketAccepts(sock) }, e.self,
			"echo", "--framing", f.String(), "--socket", sock, "--answer-bytes", fmt.Sprint(answerBytes))
		if err != nil {
			return nil, nil, err
		}
		byName[name] = &target{name: name, socket: sock, framing: f, alg: "HS256", pids: []int{c.pid()}}
	}

	if want[tPG] {
		t, why, err := e.startPG(ctx, keysDir, conns)
		switch {
		case err != nil:
			return nil, nil, err
		case why != "":
			skip(tPG, why)
		default:
			byName[tPG] = t
		}
	}

	if want[tRedis] {
		redisPath, err := findRedis()
		switch {
		case e.cf.redis == "off":
			skip(tRedis, "--redis off")
		case err != nil:
			skip(tRedis, err.Error())
		default:
			args, rsock := redisServerArgs(e.dir)
			rs, err := e.spawn(ctx, "redis-server", func() error { return redisReady(rsock) }, redisPath, args...)
			if err != nil {
				return nil, nil, err
			}
			sock := e.sock("redis-baseline")
			c, err := e.spawn(ctx, "redis-baseline", func() error { return socketAccepts(sock) }, e.self,
				"redis-baseline", "--socket", sock, "--redis", rsock, "--keys-dir", keysDir)
			if err != nil {
				return nil, nil, err
			}
			byName[tRedis] = &target{name: tRedis, socket: sock, framing: framingNDJSON, alg: "HS256", pids: []int{c.pid(), rs.pid()}, setup: true, check: true}
		}
	}

	var targets []*target
	for _, name := range allTargets() {
		if t, ok := byName[name]; ok && want[name] {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, notes, errors.New("compare: no target to run")
	}
	return targets, notes, nil
}

// startPG starts a throwaway PostgreSQL and the baseline against it. It
// returns why it skipped when the PostgreSQL binaries are not installed.
func (e *compareEnv) startPG(ctx context.Context, keysDir string, conns int) (*target, string, error) {
	url, pgPIDs, cleanup, err := startPostgres(ctx, e.log)
	if errors.Is(err, pgcluster.ErrNoBinaries) {
		return nil, err.Error(), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("postgres baseline: %w", err)
	}
	e.cleanups = append(e.cleanups, cleanup)
	sock := e.sock("pg")
	c, err := e.spawn(ctx, "pg-baseline", func() error { return socketAccepts(sock) }, e.self,
		"pg-baseline", "--socket", sock, "--database-url", url, "--keys-dir", keysDir, "--pool", fmt.Sprint(conns))
	if err != nil {
		return nil, "", err
	}
	return &target{name: tPG, socket: sock, framing: framingNDJSON, alg: "HS256", pids: []int{c.pid()},
		morePIDs: pgPIDs, setup: true, check: true}, "", nil
}

// probeAnswer validates one seen-before HS256 token and returns the size of
// the daemon's answer.
func probeAnswer(ctx context.Context, b *bench, socket string) (int, error) {
	toks, err := b.tokensFor("HS256")
	if err != nil {
		return 0, err
	}
	answers, err := ndjsonBatch(ctx, socket, [][]byte{framingNDJSON.appendValidate(nil, toks.seen[0])})
	if err != nil {
		return 0, fmt.Errorf("probe revokd: %w", err)
	}
	if classify(200, answers[0]) != answerActive {
		return 0, fmt.Errorf("probe revokd: a fresh HS256 token was answered %q; does revokd trust the minted keys?", answers[0])
	}
	return len(answers[0]), nil
}

// estimateAnswer is the size of the baselines' active answer for an HS256
// token, used when no daemon runs.
func estimateAnswer(b *bench) int {
	toks, err := b.tokensFor("HS256")
	if err != nil {
		return 300
	}
	c, reason := newVerifier(b.keys).verify(toks.seen[0])
	if reason != "" {
		return 300
	}
	return len(appendActive(nil, c))
}
