package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// loadConfig bounds one run of the load loop: it stops by itself at the
// duration or at the request cap, whichever comes first.
type loadConfig struct {
	framing     framing
	conns       int
	depth       int // requests in flight per connection (NDJSON pipelining)
	duration    time.Duration
	maxRequests int64 // across all connections
}

func (c loadConfig) validate() error {
	switch {
	case c.conns < 1:
		return errors.New("--conns must be at least 1")
	case c.depth < 1:
		return errors.New("--pipeline must be at least 1")
	case c.duration <= 0:
		return errors.New("--duration must be positive")
	case c.maxRequests < 1:
		return errors.New("--max-requests must be at least 1")
	}
	return nil
}

// loadStats is what one run measured.
type loadStats struct {
	Requests   int64 // answers received
	Active     int64
	Inactive   int64
	Errors     int64 // request errors and non-validate answers
	Mismatches int64 // answers other than the mix expected
	Elapsed    time.Duration
	Hist       *hdrhistogram.Histogram // latency in nanoseconds
}

// Latencies from 1 ns to a minute at 3 significant digits.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute), 3)
}

// dialer opens one connection to the server under test.
type dialer func(ctx context.Context) (net.Conn, error)

func unixDialer(path string) dialer {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// runLoad opens cfg.conns connections, then drives each with its feeder
// until the duration is over or the request budget is spent, and waits for
// every answer in flight. All connections are open before the clock starts.
func runLoad(ctx context.Context, dial dialer, cfg loadConfig, feeders []*feeder) (*loadStats, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(feeders) != cfg.conns {
		return nil, fmt.Errorf("%d feeders for %d connections", len(feeders), cfg.conns)
	}
	conns := make([]net.Conn, 0, cfg.conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range cfg.conns {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := dial(dctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		conns = append(conns, c)
	}

	var budget atomic.Int64
	budget.Store(cfg.maxRequests)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	// A server that stops answering cannot hold the run past this.
	hard := deadline.Add(30 * time.Second)
	var stopped atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		stopped.Store(true)
		for _, c := range conns {
			c.SetDeadline(time.Now())
		}
	})
	defer stop()

	workers := make([]*worker, cfg.conns)
	errs := make([]error, cfg.conns)
	var wg sync.WaitGroup
	for i, c := range conns {
		c.SetDeadline(hard)
		w := &worker{conn: c, framing: cfg.framing, depth: cfg.depth, feeder: feeders[i],
			deadline: deadline, budget: &budget, stopped: &stopped, hist: newHistogram()}
		workers[i] = w
		wg.Go(func() { errs[i] = w.run() })
	}
	wg.Wait()

	total := &loadStats{Hist: newHistogram()}
	for _, w := range workers {
		total.Requests += w.stats.Requests
		total.Active += w.stats.Active
		total.Inactive += w.stats.Inactive
		total.Errors += w.stats.Errors
		total.Mismatches += w.stats.Mismatches
		total.Hist.Merge(w.hist)
		total.Elapsed = max(total.Elapsed, w.end.Sub(start))
	}
	if err := ctx.Err(); err != nil {
		return total, err
	}
	if err := errors.Join(errs...); err != nil {
		return total, fmt.Errorf("load: %w", err)
	}
	return total, nil
}

// worker drives one connection from a single goroutine: it keeps up to
// depth requests in flight, answers every read with the next request, and
// flushes only when no whole answer is already buffered, so pipelined
// answers that arrive together cost one write.
type worker struct {
	conn     net.Conn
	framing  framing
	depth    int
	feeder   *feeder
	deadline time.Time
	budget   *atomic.Int64
	stopped  *atomic.Bool
	hist     *hdrhistogram.Histogram
	stats    loadStats
	end      time.Time
}

func (w *worker) run() error {
	defer func() { w.end = time.Now() }()
	r := bufio.NewReaderSize(w.conn, 64<<10)
	bw := bufio.NewWriterSize(w.conn, 64<<10)
	sent := make([]time.Time, w.depth) // ring of send times, oldest at head
	want := make([]expect, w.depth)
	head, inFlight, unflushed := 0, 0, 0
	var scratch []byte

	send := func() {
		wire, e := w.feeder.next()
		bw.Write(wire) // errors surface at Flush
		want[(head+inFlight)%w.depth] = e
		inFlight++
		unflushed++
	}
	mayStart := func(now time.Time) bool {
		return now.Before(w.deadline) && !w.stopped.Load() && w.budget.Add(-1) >= 0
	}
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		// The clock starts when the bytes leave, not when they were queued.
		now := time.Now()
		for i := inFlight - unflushed; i < inFlight; i++ {
			sent[(head+i)%w.depth] = now
		}
		unflushed = 0
		return nil
	}

	for inFlight < w.depth && mayStart(time.Now()) {
		send()
	}
	for inFlight > 0 {
		if unflushed > 0 && !w.framing.complete(r) {
			if err := flush(); err != nil {
				return err
			}
		}
		status, body, err := w.framing.readAnswer(r, &scratch)
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		now := time.Now()
		w.hist.RecordValue(int64(now.Sub(sent[head])))
		w.count(classify(status, body), want[head])
		head = (head + 1) % w.depth
		inFlight--
		if mayStart(now) {
			send()
		}
	}
	return nil
}

func (w *worker) count(a answer, e expect) {
	w.stats.Requests++
	switch a {
	case answerActive:
		w.stats.Active++
	case answerInactive:
		w.stats.Inactive++
	default:
		w.stats.Errors++
	}
	if (e == expectActive && a != answerActive) || (e == expectInactive && a != answerInactive) {
		w.stats.Mismatches++
	}
}
