package cache_test

import (
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

// Both clocks satisfy the interface everything takes.
var (
	_ cache.Clock = cache.SystemClock{}
	_ cache.Clock = (*cache.ManualClock)(nil)
)

func TestManualClock(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 1000, time.UTC)
	tests := []struct {
		name string
		move func(c *cache.ManualClock)
		want time.Time
	}{
		{"starts where it is told", func(*cache.ManualClock) {}, start},
		{"Add moves forward", func(c *cache.ManualClock) { c.Add(90 * time.Second) }, start.Add(90 * time.Second)},
		{"Add keeps nanoseconds", func(c *cache.ManualClock) { c.Add(time.Nanosecond) }, start.Add(time.Nanosecond)},
		{"Adds accumulate", func(c *cache.ManualClock) { c.Add(time.Hour); c.Add(time.Minute) }, start.Add(time.Hour + time.Minute)},
		{"Add with a negative duration moves back", func(c *cache.ManualClock) { c.Add(-time.Hour) }, start.Add(-time.Hour)},
		{"Set jumps", func(c *cache.ManualClock) { c.Set(start.Add(-24 * time.Hour)) }, start.Add(-24 * time.Hour)},
		{"Add after Set is relative to the set time", func(c *cache.ManualClock) {
			c.Set(start.Add(time.Hour))
			c.Add(time.Second)
		}, start.Add(time.Hour + time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cache.NewManualClock(start)
			tc.move(c)
			if got := c.Now(); !got.Equal(tc.want) {
				t.Errorf("Now = %v, want %v", got, tc.want)
			}
			if got, again := c.Now(), c.Now(); !got.Equal(again) {
				t.Errorf("Now moved by itself: %v then %v", got, again)
			}
		})
	}
}

// TestManualClockConcurrent: tests move the clock while the code under test
// reads it; run with -race.
func TestManualClockConcurrent(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := cache.NewManualClock(start)
	const movers, moves = 4, 500
	var wg sync.WaitGroup
	for range movers {
		wg.Go(func() {
			for range moves {
				c.Add(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(movers*moves*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now = %v after %d concurrent moves, want %v", got, movers*moves, want)
	}
}

func TestSystemClock(t *testing.T) {
	before := time.Now()
	got := cache.SystemClock{}.Now()
	after := time.Now()
	if got.Before(before) || got.After(after) {
		t.Errorf("SystemClock.Now = %v, want between %v and %v", got, before, after)
	}
}
