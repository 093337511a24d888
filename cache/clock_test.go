package cache_test

import (
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

var _ cache.Clock = cache.SystemClock{}

func TestSystemClock(t *testing.T) {
	before := time.Now()
	got := cache.SystemClock{}.Now()
	after := time.Now()
	if got.Before(before) || got.After(after) {
		t.Errorf("SystemClock.Now = %v, want between %v and %v", got, before, after)
	}
}
