package main

import (
	"fmt"
	"sync/atomic"
)

// mix is the token mix of a run.
type mix struct {
	Seen    float64 // share of the not-revoked requests whose token the server has seen before
	Revoked float64 // share of all requests whose token is revoked
}

func (m mix) validate() error {
	if m.Seen < 0 || m.Seen > 1 || m.Revoked < 0 || m.Revoked > 1 {
		return fmt.Errorf("--seen and --revoked are shares between 0 and 1, got %v and %v", m.Seen, m.Revoked)
	}
	return nil
}

// expect is the answer a request should get.
type expect uint8

const (
	expectAny expect = iota // echo servers answer the same canned line to everything
	expectActive
	expectInactive
)

// wireSet holds requests already encoded for one framing, so the load loop
// only copies bytes.
type wireSet struct {
	seen    [][]byte
	revoked [][]byte
	fresh   *freshPool
}

func encodeAll(f framing, tokens []string) [][]byte {
	out := make([][]byte, len(tokens))
	for i, t := range tokens {
		out[i] = f.appendValidate(nil, t)
	}
	return out
}

// freshPool hands out never-seen tokens once each, across all connections.
// When a run outlasts the pool it wraps around and counts the reuse, which
// the report shows: those requests were not fresh.
type freshPool struct {
	wires [][]byte
	next  atomic.Int64
}

func (p *freshPool) take() ([]byte, bool) {
	i := p.next.Add(1) - 1
	return p.wires[i%int64(len(p.wires))], i < int64(len(p.wires))
}

// reused is how many fresh requests got a token already handed out.
func (p *freshPool) reused() int64 {
	if p == nil {
		return 0
	}
	return max(0, p.next.Load()-int64(len(p.wires)))
}

// feeder yields one connection's requests. Shares are spread evenly with
// accumulators rather than drawn at random: the sequence is the same on
// every run and costs nothing on the hot path.
type feeder struct {
	set         *wireSet
	mix         mix
	check       bool
	accR, accS  float64
	iSeen, iRev int
}

func newFeeder(set *wireSet, m mix, check bool, offset int) *feeder {
	f := &feeder{set: set, mix: m, check: check}
	if n := len(set.seen); n > 0 {
		f.iSeen = offset % n // connections start at different tokens
	}
	if n := len(set.revoked); n > 0 {
		f.iRev = offset % n
	}
	return f
}

func (f *feeder) next() ([]byte, expect) {
	want := func(e expect) expect {
		if !f.check {
			return expectAny
		}
		return e
	}
	f.accR += f.mix.Revoked
	if f.accR >= 1 && len(f.set.revoked) > 0 {
		f.accR--
		w := f.set.revoked[f.iRev]
		f.iRev = (f.iRev + 1) % len(f.set.revoked)
		return w, want(expectInactive)
	}
	f.accS += f.mix.Seen
	if f.accS >= 1 || f.set.fresh == nil {
		f.accS = max(0, f.accS-1)
		w := f.set.seen[f.iSeen]
		f.iSeen = (f.iSeen + 1) % len(f.set.seen)
		return w, want(expectActive)
	}
	w, _ := f.set.fresh.take()
	return w, want(expectActive)
}
