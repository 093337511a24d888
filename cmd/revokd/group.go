package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// group owns the daemon's long-running tasks: it starts them, cancels them
// all when one fails (or stops when it should not have), and waits for every
// one. It is errgroup's core, kept here to add no dependency.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // the first failure
}

func newGroup(ctx context.Context) *group {
	ctx, cancel := context.WithCancel(ctx)
	return &group{ctx: ctx, cancel: cancel}
}

// Go runs task until the group's context is done. A task that fails, or
// returns before the context is done, takes the group down with it.
func (g *group) Go(name string, task func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := task(g.ctx)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			g.fail(fmt.Errorf("%s: %w", name, err))
		case g.ctx.Err() == nil:
			g.fail(fmt.Errorf("%s stopped unexpectedly", name))
		}
	}()
}

func (g *group) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.cancel()
}

// Wait waits for every task and returns the first failure, or nil when the
// parent context ended them.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
