package clocktest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/internal/clocktest"
)

func TestClock(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 1000, time.UTC)
	tests := []struct {
		name string
		move func(c *clocktest.Clock)
		want time.Time
	}{
		{"starts where it is told", func(*clocktest.Clock) {}, start},
		{"Add moves forward", func(c *clocktest.Clock) { c.Add(90 * time.Second) }, start.Add(90 * time.Second)},
		{"Add keeps nanoseconds", func(c *clocktest.Clock) { c.Add(time.Nanosecond) }, start.Add(time.Nanosecond)},
		{"Adds accumulate", func(c *clocktest.Clock) { c.Add(time.Hour); c.Add(time.Minute) }, start.Add(time.Hour + time.Minute)},
		{"Add with a negative duration moves back", func(c *clocktest.Clock) { c.Add(-time.Hour) }, start.Add(-time.Hour)},
		{"Set jumps", func(c *clocktest.Clock) { c.Set(start.Add(-24 * time.Hour)) }, start.Add(-24 * time.Hour)},
		{"Add after Set is relative to the set time", func(c *clocktest.Clock) {
			c.Set(start.Add(time.Hour))
			c.Add(time.Second)
		}, start.Add(time.Hour + time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clocktest.New(start)
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

// TestClockConcurrent: tests move the clock while the code under test
// reads it; run with -race.
func TestClockConcurrent(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := clocktest.New(start)
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

// fired reports whether ch holds a value, without waiting: with a manual
// clock a timer fires inside Add, so its value is there when Add returns.
func fired(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestTimer(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	tm, ch := c.NewTimer(time.Minute)
	c.Add(59 * time.Second)
	if fired(ch) {
		t.Fatal("timer fired before its time")
	}
	c.Add(time.Second)
	if !fired(ch) {
		t.Fatal("timer did not fire at its time")
	}
	c.Add(time.Hour)
	if fired(ch) {
		t.Error("timer fired twice")
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired timer reports it armed")
	}
	if !tm.Stop() {
		t.Error("Stop of an armed timer reports it was not")
	}
	c.Add(time.Hour)
	if fired(ch) {
		t.Error("stopped timer fired")
	}
	if _, now := c.NewTimer(0); !fired(now) {
		t.Error("timer for now did not fire at once")
	}
}

func TestTicker(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	tk, ch := c.NewTicker(time.Minute)
	for i := range 3 {
		c.Add(time.Minute)
		if !fired(ch) {
			t.Fatalf("tick %d missing", i)
		}
	}
	c.Add(10 * time.Minute)
	if !fired(ch) || fired(ch) {
		t.Error("a move over ten ticks: want exactly one tick, as a slow reader of a time.Ticker gets")
	}
	c.Add(59 * time.Second)
	if fired(ch) {
		t.Error("ticked before the next multiple of the interval")
	}
	tk.Reset(time.Hour)
	c.Add(time.Minute)
	if fired(ch) {
		t.Error("ticked on the old interval after Reset")
	}
	tk.Stop()
	c.Add(time.Hour)
	if fired(ch) {
		t.Error("stopped ticker ticked")
	}
}

// TestWaitForWaiters: a test can wait for the loop it steps to arm its
// ticker, and only then move the clock.
func TestWaitForWaiters(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	ticked := make(chan struct{})
	go func() {
		tk, ch := c.NewTicker(time.Second)
		defer tk.Stop()
		<-ch
		close(ticked)
	}()
	c.WaitForWaiters(1)
	c.Add(time.Second)
	<-ticked
}
