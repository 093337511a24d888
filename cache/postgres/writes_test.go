package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

func TestConcurrentWritersFromTwoDaemons(t *testing.T) {
	url := migratedDB(t)
	a, b := startSynced(t, url), startSynced(t, url)
	ctx := context.Background()
	base := time.Now().Truncate(time.Microsecond)
	const perDaemon = 40

	var wg sync.WaitGroup
	errs := make(chan error, 4*perDaemon)
	for di, d := range []*daemon{a, b} {
		for w := range 2 {
			wg.Go(func() {
				for i := range perDaemon / 2 {
					n := di*perDaemon + w*perDaemon/2 + i
					// Everyone races on one subject's cutoff with a different
					// before; the highest must win everywhere.
					if _, err := d.RevokeAll(ctx, "sub", "shared", base.Add(time.Duration(n)*time.Millisecond)); err != nil {
						errs <- err
					}
					// And on the same token ids: exactly one stores each.
					if _, err := d.RevokeToken(ctx, fmt.Sprintf("jti-%d", i), base.Add(time.Hour)); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	conn := connect(t, url)
	waitConverged(t, conn, a, b)
	want := base.Add((2*perDaemon - 1) * time.Millisecond)
	for i, d := range []*daemon{a, b} {
		if got, _ := d.replica.Cutoff("sub", "shared"); !got.Equal(want) {
			t.Errorf("daemon %d cutoff = %v, want the highest %v", i, got, want)
		}
	}
}

func TestRevokeTokenStoredOnce(t *testing.T) {
	url := migratedDB(t)
	a, b := startSynced(t, url), startSynced(t, url)
	ctx := context.Background()
	const ids, tries = 20, 4
	var mu sync.Mutex
	stored := map[string]int{}
	var wg sync.WaitGroup
	for i := range tries {
		d := []*daemon{a, b}[i%2]
		wg.Go(func() {
			for j := range ids {
				id := fmt.Sprintf("id-%d", j)
				ok, err := d.RevokeToken(ctx, id, time.Now().Add(time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					stored[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for j := range ids {
		if got := stored[fmt.Sprintf("id-%d", j)]; got != 1 {
			t.Errorf("id-%d reported stored %d times, want exactly once", j, got)
		}
	}
}

func TestInvalidWrites(t *testing.T) {
	a := startSynced(t, migratedDB(t))
	ctx := context.Background()
	long := strings.Repeat("x", 513)
	tests := []struct {
		name string
		do   func() error
	}{
		{"token id too long", func() error { _, err := a.RevokeToken(ctx, long, time.Now().Add(time.Hour)); return err }},
		{"value too long", func() error { _, err := a.RevokeAll(ctx, "sub", long, time.Time{}); return err }},
		{"empty claim", func() error { _, err := a.RevokeAll(ctx, "", "v", time.Time{}); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if !errors.Is(err, ErrInvalid) || errors.Is(err, cache.ErrUnavailable) {
				t.Errorf("error = %v, want ErrInvalid and not ErrUnavailable", err)
			}
		})
	}
}
