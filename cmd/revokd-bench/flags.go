package main

import (
	"flag"
	"time"
)

// loadFlags are the load options shared by run and compare.
type loadFlags struct {
	conns       int
	depth       int
	duration    time.Duration
	warmup      time.Duration
	runs        int
	maxRequests int64
	seen        float64
	revoked     float64
	seenTokens  int
	freshTokens int
	jsonPath    string
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&l.conns, "conns", 8, "connections")
	fs.IntVar(&l.depth, "pipeline", 1, "requests in flight per connection (NDJSON pipelining)")
	fs.DurationVar(&l.duration, "duration", 3*time.Second, "length of each measured run")
	fs.DurationVar(&l.warmup, "warmup", time.Second, "warm-up before the first run of each target, not measured")
	fs.IntVar(&l.runs, "runs", 3, "measured runs per target")
	fs.Int64Var(&l.maxRequests, "max-requests", 50_000_000, "cap on requests per run, whatever the duration")
	fs.Float64Var(&l.seen, "seen", 1, "share of the not-revoked requests whose token the server has seen before (the rest are fresh)")
	fs.Float64Var(&l.revoked, "revoked", 0, "share of requests whose token is revoked")
	fs.IntVar(&l.seenTokens, "seen-tokens", 1000, "distinct seen-before tokens (a tenth as many revoked ones)")
	fs.IntVar(&l.freshTokens, "fresh-tokens", 20000, "fresh tokens minted per round; a run that needs more reuses them and says so")
	fs.StringVar(&l.jsonPath, "json", "", "also write the report as JSON to this file")
}

func (l *loadFlags) config() (benchConfig, error) {
	c := benchConfig{
		conns: l.conns, depth: l.depth, duration: l.duration, warmup: l.warmup, runs: l.runs,
		maxRequests: l.maxRequests, mix: mix{Seen: l.seen, Revoked: l.revoked},
		seenTokens: max(1, l.seenTokens), freshTokens: max(1, l.freshTokens),
	}
	if err := c.mix.validate(); err != nil {
		return c, err
	}
	if l.runs < 1 {
		return c, errorf("--runs must be at least 1")
	}
	lc := loadConfig{conns: c.conns, depth: c.depth, duration: c.duration, maxRequests: c.maxRequests}
	return c, lc.validate()
}

// settings records the options in the JSON report.
func (l *loadFlags) settings() map[string]any {
	return map[string]any{
		"conns": l.conns, "pipeline": l.depth, "duration": l.duration.String(), "warmup": l.warmup.String(),
		"runs": l.runs, "max_requests": l.maxRequests, "seen": l.seen, "revoked": l.revoked,
		"seen_tokens": l.seenTokens, "fresh_tokens": l.freshTokens,
	}
}
