package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// target is one server under load.
type target struct {
	name    string
	socket  string
	framing framing
	alg     string
	pids    []int // processes whose CPU counts as the server's
	// morePIDs, when set, finds more such processes at the start of each
	// run (PostgreSQL's backends come and go with connections).
	morePIDs func() []int
	setup    bool // speaks NDJSON validate and revoke, so tokens can be revoked and warmed
	check    bool // answers mean something: check them against the mix
}

// benchConfig is what every run of every target shares.
type benchConfig struct {
	conns       int
	depth       int
	duration    time.Duration
	warmup      time.Duration
	runs        int
	maxRequests int64
	mix         mix
	seenTokens  int
	freshTokens int
}

// algTokens are the tokens of one algorithm.
type algTokens struct {
	seen    []string
	revoked []string
}

// bench mints tokens once per algorithm and drives targets with them.
type bench struct {
	cfg    benchConfig
	keys   *Keys
	log    *slog.Logger
	nonce  string // makes token ids unique to this invocation
	tokens map[string]*algTokens
	fresh  map[string]freshTokens // per algorithm, for the current round
	wires  map[string][][]byte    // encoded tokens per "kind/alg/framing"
}

func newBench(cfg benchConfig, keys *Keys, log *slog.Logger) *bench {
	return &bench{cfg: cfg, keys: keys, log: log, nonce: fmt.Sprintf("%x", time.Now().UnixNano()),
		tokens: map[string]*algTokens{}, fresh: map[string]freshTokens{}, wires: map[string][][]byte{}}
}

func (b *bench) tokensFor(alg string) (*algTokens, error) {
	if t, ok := b.tokens[alg]; ok {
		return t, nil
	}
	now := time.Now()
	seen, err := b.keys.mintN(alg, b.nonce+"-seen", b.cfg.seenTokens, now)
	if err != nil {
		return nil, err
	}
	t := &algTokens{seen: seen}
	if b.cfg.mix.Revoked > 0 {
		n := max(1, b.cfg.seenTokens/10)
		if t.revoked, err = b.keys.mintN(alg, b.nonce+"-revoked", n, now); err != nil {
			return nil, err
		}
	}
	b.tokens[alg] = t
	return t, nil
}

// freshFor returns the never-seen tokens of a round. Every target of the
// round may share them: no target has seen them before its own run.
func (b *bench) freshFor(alg string, round int) ([]string, error) {
	if b.cfg.mix.Seen >= 1 || b.cfg.mix.Revoked >= 1 {
		return nil, nil
	}
	if f, ok := b.fresh[alg]; ok && f.round == round {
		return f.tokens, nil
	}
	start := time.Now()
	toks, err := b.keys.mintN(alg, fmt.Sprintf("%s-fresh%d", b.nonce, round), b.cfg.freshTokens, start)
	if err != nil {
		return nil, err
	}
	b.log.Info("minted fresh tokens", "alg", alg, "round", round, "count", len(toks), "took", time.Since(start).Round(time.Millisecond))
	b.fresh[alg] = freshTokens{round: round, tokens: toks} // an earlier round's are no longer fresh
	return toks, nil
}

type freshTokens struct {
	round  int
	tokens []string
}

// encoded returns tokens encoded for f, memoised under key.
func (b *bench) encoded(key string, f framing, tokens []string) [][]byte {
	key += "/" + f.String()
	if w, ok := b.wires[key]; ok {
		return w
	}
	w := encodeAll(f, tokens)
	b.wires[key] = w
	return w
}

// prepare revokes the mix's revoked tokens on t, validates every seen token
// once so t has seen it, then runs the warm-up.
func (b *bench) prepare(ctx context.Context, t *target) error {
	toks, err := b.tokensFor(t.alg)
	if err != nil {
		return err
	}
	if t.setup {
		if len(toks.revoked) > 0 {
			if err := revokeAll(ctx, t.socket, toks.revoked); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if err := validateAll(ctx, t.socket, toks.revoked, false); err != nil {
				return fmt.Errorf("%s: revoked tokens: %w", t.name, err)
			}
		}
		if err := validateAll(ctx, t.socket, toks.seen, true); err != nil {
			return fmt.Errorf("%s: seen tokens: %w", t.name, err)
		}
	}
	if b.cfg.warmup <= 0 {
		return nil
	}
	// The warm-up uses only seen and revoked tokens, so it spends no fresh ones.
	warm := mix{Seen: 1, Revoked: b.cfg.mix.Revoked}
	_, err = b.load(ctx, t, warm, nil, b.cfg.warmup)
	return err
}

// load drives t once with the mix.
func (b *bench) load(ctx context.Context, t *target, m mix, fresh *freshPool, d time.Duration) (*loadStats, error) {
	toks, err := b.tokensFor(t.alg)
	if err != nil {
		return nil, err
	}
	set := &wireSet{
		seen:    b.encoded("seen/"+t.alg, t.framing, toks.seen),
		revoked: b.encoded("revoked/"+t.alg, t.framing, toks.revoked),
		fresh:   fresh,
	}
	feeders := make([]*feeder, b.cfg.conns)
	for i := range feeders {
		feeders[i] = newFeeder(set, m, t.check, i*len(toks.seen)/b.cfg.conns)
	}
	cfg := loadConfig{framing: t.framing, conns: b.cfg.conns, depth: b.cfg.depth, duration: d, maxRequests: b.cfg.maxRequests}
	stats, err := runLoad(ctx, unixDialer(t.socket), cfg, feeders)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	return stats, nil
}

// runOnce measures one run of t.
func (b *bench) runOnce(ctx context.Context, t *target, round int) (runReport, error) {
	var pool *freshPool
	fresh, err := b.freshFor(t.alg, round)
	if err != nil {
		return runReport{}, err
	}
	if len(fresh) > 0 {
		pool = &freshPool{wires: encodeAll(t.framing, fresh)}
	}
	pids := t.pids
	if t.morePIDs != nil {
		pids = append(slices.Clone(pids), t.morePIDs()...)
	}
	server := startCPU(pids...)
	self := startCPU(0)
	stats, err := b.load(ctx, t, b.cfg.mix, pool, b.cfg.duration)
	if err != nil {
		return runReport{}, err
	}
	r := newRunReport(t.name, round, stats)
	r.FreshReused = pool.reused()
	if len(pids) > 0 {
		if cpu, err := server.stop(); err == nil {
			r.ServerCPU = perRequest(cpu, stats.Requests)
		} else {
			b.log.Warn("server cpu", "target", t.name, "err", err)
		}
	}
	if cpu, err := self.stop(); err == nil {
		r.ClientCPU = perRequest(cpu, stats.Requests)
	}
	return r, nil
}

// alternate runs every target once per round, so that a slow spell of a
// noisy machine hits all targets alike. Odd rounds run the targets in
// order and even rounds in reverse (A B, B A, ...): a target that runs just
// after another is then also measured just before it, and whatever one run
// leaves behind for the next (a warm or a cold cache, a busy core) is
// shared out instead of always falling on the same side of a ratio.
func (b *bench) alternate(ctx context.Context, targets []*target, progress func(runReport)) ([]runReport, error) {
	var runs []runReport
	for round := 1; round <= b.cfg.runs; round++ {
		order := targets
		if round%2 == 0 {
			order = slices.Clone(targets)
			slices.Reverse(order)
		}
		for _, t := range order {
			r, err := b.runOnce(ctx, t, round)
			if err != nil {
				return runs, err
			}
			progress(r)
			runs = append(runs, r)
		}
	}
	return runs, nil
}
