package bolt

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

// TestWritesAcknowledgeOnlyWhatTheReplicaEnforces races revoke-all, ban and
// unban on one subject, revoke-all and unban on another, and revocations of
// one token id. Every write must leave the replica holding
// the cutoff in force before it returns, also when another writer stored it
// and has not applied it yet; otherwise a revoke-all is acknowledged while
// the replica still accepts the tokens it revoked.
//
// The clock stands still during a round and moves between rounds, so within
// one round every revoke-all asks for the same cutoff (now), and only a ban
// lies later. After a revoke-all or an unban returns, nothing can lower the
// cutoff below now; after a ban returns, nothing but its own unban can lower
// it below the ban's end. No one bans bob, so an unban of bob finds a
// cutoff at or before now and returns it.
func TestWritesAcknowledgeOnlyWhatTheReplicaEnforces(t *testing.T) {
	f := newFixture(t)
	// The race is between a commit and the replica; fsync only slows the
	// rounds down.
	f.src.db.NoSync = true
	ctx := context.Background()
	const (
		rounds   = 400
		revokers = 4 // half of them leave before zero: the store's clock
	)
	rejectsOf := func(sub string, sessionStart time.Time) bool {
		claims := []cache.ClaimValue{{Claim: "sub", Value: sub}}
		return f.replica.Reject(claims, sessionStart.UnixMicro(), "jti", "", f.clock.Now().UnixMicro()).Claim != ""
	}
	rejects := func(sessionStart time.Time) bool { return rejectsOf("alice", sessionStart) }
	var (
		accepted atomic.Int64
		mu       sync.Mutex
		first    []string
	)
	fail := func(format string, args ...any) {
		accepted.Add(1)
		mu.Lock()
		if len(first) < 5 {
			first = append(first, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	for round := range rounds {
		now := t0.Add(time.Duration(round) * time.Second)
		f.clock.Set(now)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range revokers {
			wg.Go(func() {
				<-start
				var before time.Time
				if g%2 == 1 {
					before = now
				}
				got, err := f.src.RevokeAll(ctx, "sub", "alice", before)
				if err != nil {
					t.Errorf("round %d: RevokeAll: %v", round, err)
					return
				}
				if got.Before(now) {
					fail("round %d: RevokeAll returned %v, before now %v", round, got, now)
				}
				if !rejects(now.Add(-time.Microsecond)) {
					fail("round %d: revoke-all returned %v, yet the replica accepts a session started a microsecond before %v", round, got, now)
				}
			})
		}
		wg.Go(func() {
			<-start
			ban := now.Add(time.Hour)
			got, err := f.src.RevokeAll(ctx, "sub", "alice", ban)
			if err != nil {
				t.Errorf("round %d: ban: %v", round, err)
				return
			}
			if !got.Equal(ban) {
				fail("round %d: ban returned %v, want %v", round, got, ban)
			}
			if !rejects(ban.Add(-time.Microsecond)) {
				fail("round %d: ban until %v returned, yet the replica accepts a session started a microsecond before it", round, ban)
			}
			got, err = f.src.Unban(ctx, "sub", "alice")
			if err != nil {
				t.Errorf("round %d: unban: %v", round, err)
				return
			}
			if !got.Equal(now) {
				fail("round %d: unban returned %v, want now %v", round, got, now)
			}
			if !rejects(now.Add(-time.Microsecond)) {
				fail("round %d: unban returned %v, yet the replica accepts a session started a microsecond before it", round, got)
			}
			if rejects(now) {
				fail("round %d: unban returned %v, yet the replica still holds the ban", round, got)
			}
		})
		for g := range 4 {
			wg.Go(func() {
				<-start
				if g%2 == 0 {
					if _, err := f.src.RevokeAll(ctx, "sub", "bob", time.Time{}); err != nil {
						t.Errorf("round %d: RevokeAll bob: %v", round, err)
					}
					return
				}
				got, err := f.src.Unban(ctx, "sub", "bob")
				if err != nil {
					t.Errorf("round %d: unban bob: %v", round, err)
					return
				}
				if !got.IsZero() && !rejectsOf("bob", got.Add(-time.Microsecond)) {
					fail("round %d: unban of bob returned %v, yet the replica accepts a session started a microsecond before it", round, got)
				}
			})
		}
		id := fmt.Sprintf("jti-%d", round)
		for range 2 {
			wg.Go(func() {
				<-start
				if _, err := f.src.RevokeToken(ctx, id, now.Add(time.Hour)); err != nil {
					t.Errorf("round %d: RevokeToken: %v", round, err)
					return
				}
				if !f.replica.Denied(id) {
					fail("round %d: RevokeToken(%s) returned, yet the replica does not deny it", round, id)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d acknowledged writes the replica did not enforce; first: %v", n, first)
	}
}
