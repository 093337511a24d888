package cache_test

import (
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
)

func TestReplicaStale(t *testing.T) {
	tests := []struct {
		name      string
		ready     bool
		contact   func(r *cache.Replica, c *clocktest.Clock) // nil: never heard from the store
		after     time.Duration
		wantStale bool
		wantOut   bool // OutOfTouch
	}{
		{name: "not loaded, policy off", after: 0, wantStale: true},
		{name: "loaded, policy off, never in contact", ready: true},
		{name: "loaded, never in contact", ready: true, after: time.Minute, wantStale: true, wantOut: true},
		{name: "loaded, contact a minute ago", ready: true, after: time.Minute,
			contact: func(r *cache.Replica, c *clocktest.Clock) { r.Touch(); c.Add(time.Minute) }},
		{name: "loaded, contact just over a minute ago", ready: true, after: time.Minute,
			contact:   func(r *cache.Replica, c *clocktest.Clock) { r.Touch(); c.Add(time.Minute + time.Microsecond) },
			wantStale: true, wantOut: true},
		{name: "loaded, always in touch", ready: true, after: time.Minute,
			contact: func(r *cache.Replica, c *clocktest.Clock) { r.StayInTouch(); c.Add(time.Hour); r.Touch() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clocktest.New(r0)
			r := cache.NewReplica(c, 0, 0)
			if tc.ready {
				r.SetReady()
			}
			if tc.contact != nil {
				tc.contact(r, c)
			}
			if got := r.Stale(c.Now(), tc.after); got != tc.wantStale {
				t.Errorf("Stale = %v, want %v", got, tc.wantStale)
			}
			if got := r.OutOfTouch(c.Now(), tc.after); got != tc.wantOut {
				t.Errorf("OutOfTouch = %v, want %v", got, tc.wantOut)
			}
		})
	}
}

func TestReplicaLastContact(t *testing.T) {
	c := clocktest.New(r0)
	r := cache.NewReplica(c, 0, 0)
	if got := r.LastContact(); !got.IsZero() {
		t.Errorf("before any contact: %v, want zero", got)
	}
	r.Touch()
	c.Add(time.Minute)
	if got := r.LastContact(); !got.Equal(r0) {
		t.Errorf("a minute after contact: %v, want %v", got, r0)
	}
	r.StayInTouch()
	if got := r.LastContact(); !got.Equal(c.Now()) {
		t.Errorf("staying in touch: %v, want now %v", got, c.Now())
	}
}

func TestReplicaLoaded(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	select {
	case <-r.Loaded():
		t.Fatal("Loaded closed before SetReady")
	default:
	}
	r.SetReady()
	r.SetReady() // twice is harmless
	<-r.Loaded()
}
