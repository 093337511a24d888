package cache_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/internal/clocktest"
)

// r0 has sub-second digits on purpose: the replica keeps microseconds.
var r0 = time.Date(2026, 11, 28, 12, 0, 0, 123456000, time.UTC)

func TestReplicaApplyCutoffVersions(t *testing.T) {
	type apply struct {
		before      time.Time
		version     int64
		wantApplied bool
	}
	tests := []struct {
		name        string
		applies     []apply
		wantBefore  time.Time
		wantVersion int64
	}{
		{"first change applies", []apply{{r0, 1, true}}, r0, 1},
		{"newer version wins", []apply{{r0, 1, true}, {r0.Add(time.Hour), 2, true}}, r0.Add(time.Hour), 2},
		{"newer version may lower (unban)", []apply{{r0.Add(time.Hour), 1, true}, {r0, 2, true}}, r0, 2},
		{"older version ignored (reordered)", []apply{{r0.Add(time.Hour), 5, true}, {r0, 4, false}}, r0.Add(time.Hour), 5},
		{"repeated version ignored (redelivered)", []apply{{r0, 3, true}, {r0.Add(time.Hour), 3, false}}, r0, 3},
		{"gaps in versions are fine", []apply{{r0, 1, true}, {r0.Add(time.Second), 100, true}, {r0.Add(time.Minute), 50, false}}, r0.Add(time.Second), 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktest.New(r0)
			r := cache.NewReplica(clock, 0, 0)
			for i, a := range tc.applies {
				got := r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "42", Before: a.before, Version: a.version})
				if got != a.wantApplied {
					t.Errorf("apply %d (version %d): applied = %v, want %v", i, a.version, got, a.wantApplied)
				}
			}
			before, ok := r.Cutoff("sub", "42")
			if !ok || !before.Equal(tc.wantBefore) {
				t.Errorf("Cutoff = %v (present %v), want %v", before, ok, tc.wantBefore)
			}
			if got := r.Version(); got != tc.wantVersion {
				t.Errorf("Version = %d, want %d", got, tc.wantVersion)
			}
			cs, _ := r.Snapshot()
			if len(cs) != 1 || cs[0].Version != tc.wantVersion {
				t.Errorf("Snapshot = %+v, want one cutoff at version %d", cs, tc.wantVersion)
			}
		})
	}
}

func TestReplicaApplyDenialVersions(t *testing.T) {
	type apply struct {
		expires     time.Time
		version     int64
		wantApplied bool
	}
	tests := []struct {
		name        string
		applies     []apply
		wantExpires time.Time
	}{
		{"first change applies", []apply{{r0.Add(time.Hour), 1, true}}, r0.Add(time.Hour)},
		{"newer version wins", []apply{{r0.Add(time.Hour), 1, true}, {r0.Add(2 * time.Hour), 2, true}}, r0.Add(2 * time.Hour)},
		{"older version ignored", []apply{{r0.Add(2 * time.Hour), 2, true}, {r0.Add(time.Hour), 1, false}}, r0.Add(2 * time.Hour)},
		{"repeated version ignored", []apply{{r0.Add(time.Hour), 2, true}, {r0.Add(3 * time.Hour), 2, false}}, r0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cache.NewReplica(clocktest.New(r0), 0, 0)
			for i, a := range tc.applies {
				if got := r.ApplyDenial(cache.Denial{ID: "jti", ExpiresAt: a.expires, Version: a.version}); got != a.wantApplied {
					t.Errorf("apply %d (version %d): applied = %v, want %v", i, a.version, got, a.wantApplied)
				}
			}
			_, ds := r.Snapshot()
			if len(ds) != 1 || !ds[0].ExpiresAt.Equal(tc.wantExpires) {
				t.Errorf("Snapshot denials = %+v, want one expiring %v", ds, tc.wantExpires)
			}
		})
	}
}

// TestReplicaVersionsAcrossKinds: cutoffs and denials share one sequence, so
// the replica's Version is the highest of either.
func TestReplicaVersionsAcrossKinds(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	r.ApplyDenial(cache.Denial{ID: "a", ExpiresAt: r0.Add(time.Hour), Version: 7})
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "1", Before: r0, Version: 3})
	if got := r.Version(); got != 7 {
		t.Errorf("Version = %d, want 7", got)
	}
	// A denial with an old version for a new id still applies: versions are
	// compared per key.
	if !r.ApplyDenial(cache.Denial{ID: "b", ExpiresAt: r0.Add(time.Hour), Version: 2}) {
		t.Errorf("ApplyDenial of a new id with a low version was ignored")
	}
	if got := r.Version(); got != 7 {
		t.Errorf("Version after a lower one = %d, want 7", got)
	}
}

func TestReplicaDeniedExpiry(t *testing.T) {
	exp := r0.Add(time.Hour)
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"long before expiry", r0, true},
		{"one microsecond before expiry", exp.Add(-time.Microsecond), true},
		{"at expiry", exp, false},
		{"nanoseconds after expiry, same microsecond", exp.Add(999 * time.Nanosecond), false},
		{"after expiry", exp.Add(time.Second), false},
	}
	clock := clocktest.New(r0)
	r := cache.NewReplica(clock, 0, 0)
	r.ApplyDenial(cache.Denial{ID: "jti", ExpiresAt: exp, Version: 1})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(tc.now)
			if got := r.Denied("jti"); got != tc.want {
				t.Errorf("Denied at %v = %v, want %v", tc.now, got, tc.want)
			}
			if r.Denied("other") {
				t.Errorf("Denied(other) = true, want false")
			}
		})
	}
}

func TestReplicaPrune(t *testing.T) {
	// Seeded at r0: cutoffs by value, denials by id.
	cutoffs := map[string]time.Time{
		"ancient": r0.Add(-48 * time.Hour),
		"day":     r0.Add(-24 * time.Hour),
		"recent":  r0.Add(-time.Minute),
		"ban":     r0.Add(10 * time.Hour),
	}
	denials := map[string]time.Time{
		"past":  r0.Add(-time.Second),
		"soon":  r0.Add(time.Minute),
		"hour":  r0.Add(time.Hour),
		"later": r0.Add(5 * time.Hour),
	}
	tests := []struct {
		name           string
		maxSessionAge  time.Duration
		advance        time.Duration
		wantCutoffs    []string
		wantDenials    []string
		wantPrunedCuts int
		wantPrunedDens int
	}{
		{"now, unbounded sessions", 0, 0, []string{"ancient", "ban", "day", "recent"}, []string{"hour", "later", "soon"}, 0, 1},
		{"an hour on, unbounded sessions keep every cutoff", 0, time.Hour,
			[]string{"ancient", "ban", "day", "recent"}, []string{"later"}, 0, 3},
		{"cutoff exactly max session age old is kept", 24 * time.Hour, 0,
			[]string{"ban", "day", "recent"}, []string{"hour", "later", "soon"}, 1, 1},
		{"one microsecond later it goes", 24 * time.Hour, time.Microsecond,
			[]string{"ban", "recent"}, []string{"hour", "later", "soon"}, 2, 1},
		{"a ban goes once it is older than the max session age", time.Hour, 11*time.Hour + time.Microsecond,
			[]string{}, []string{}, 4, 4},
		{"a ban is kept while it can still reject", time.Hour, 10 * time.Hour,
			[]string{"ban"}, []string{}, 3, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktest.New(r0)
			r := cache.NewReplica(clock, tc.maxSessionAge, 0)
			v := int64(0)
			for value, before := range cutoffs {
				v++
				r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: value, Before: before, Version: v})
			}
			for id, exp := range denials {
				v++
				r.ApplyDenial(cache.Denial{ID: id, ExpiresAt: exp, Version: v})
			}
			clock.Add(tc.advance)
			// Which entries could still reject a token, judged before pruning.
			for id := range denials {
				if r.Denied(id) != slices.Contains(tc.wantDenials, id) {
					t.Fatalf("test table is wrong: Denied(%q) = %v before prune", id, r.Denied(id))
				}
			}

			gotCuts, gotDens := r.Prune()
			if gotCuts != tc.wantPrunedCuts || gotDens != tc.wantPrunedDens {
				t.Errorf("Prune = (%d, %d), want (%d, %d)", gotCuts, gotDens, tc.wantPrunedCuts, tc.wantPrunedDens)
			}
			cs, ds := r.Snapshot()
			gotC, gotD := []string{}, []string{}
			for _, c := range cs {
				gotC = append(gotC, c.Value)
			}
			for _, d := range ds {
				gotD = append(gotD, d.ID)
			}
			if !slices.Equal(gotC, tc.wantCutoffs) || !slices.Equal(gotD, tc.wantDenials) {
				t.Errorf("after Prune: cutoffs %v denials %v, want %v %v", gotC, gotD, tc.wantCutoffs, tc.wantDenials)
			}
			if c, d := r.Sizes(); c != len(tc.wantCutoffs) || d != len(tc.wantDenials) {
				t.Errorf("Sizes = (%d, %d), want (%d, %d)", c, d, len(tc.wantCutoffs), len(tc.wantDenials))
			}
		})
	}
}

func TestReplicaMicrosecondPrecision(t *testing.T) {
	tests := []struct {
		name  string
		given time.Time
		want  time.Time
	}{
		{"microseconds kept", r0.Add(7 * time.Microsecond), r0.Add(7 * time.Microsecond)},
		{"nanoseconds dropped", r0.Add(7*time.Microsecond + 999*time.Nanosecond), r0.Add(7 * time.Microsecond)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"far future", time.Date(9999, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{"other time zone", r0.In(time.FixedZone("x", 3600)).Add(time.Microsecond), r0.Add(time.Microsecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cache.NewReplica(clocktest.New(r0), 0, 0)
			r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "1", Before: tc.given, Version: 1})
			got, ok := r.Cutoff("sub", "1")
			if !ok || !got.Equal(tc.want) {
				t.Errorf("Cutoff = %v (present %v), want %v", got, ok, tc.want)
			}
		})
	}
	// Two cutoffs one microsecond apart stay apart.
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "a", Before: r0, Version: 1})
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "b", Before: r0.Add(time.Microsecond), Version: 2})
	a, _ := r.Cutoff("sub", "a")
	b, _ := r.Cutoff("sub", "b")
	if !a.Before(b) {
		t.Errorf("cutoffs one microsecond apart: a = %v, b = %v, want a before b", a, b)
	}
}

func TestReplicaCutoffKeys(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: "42", Before: r0, Version: 1})
	tests := []struct {
		claim, value string
		want         bool
	}{
		{"sub", "42", true},
		{"sid", "42", false},
		{"sub", "420", false},
		{"sub", "4", false},
		{"su", "b42", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.claim+"/"+tc.value, func(t *testing.T) {
			if _, got := r.Cutoff(tc.claim, tc.value); got != tc.want {
				t.Errorf("Cutoff(%q, %q) present = %v, want %v", tc.claim, tc.value, got, tc.want)
			}
		})
	}
}

func TestReplicaSnapshotSorted(t *testing.T) {
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	claims := []string{"sub", "sid", "tenant"}
	for i := range 500 {
		r.ApplyCutoff(cache.Cutoff{Claim: claims[rng.IntN(3)], Value: strconv.Itoa(rng.IntN(1000)), Before: r0, Version: int64(i + 1)})
		r.ApplyDenial(cache.Denial{ID: strconv.Itoa(rng.IntN(1000)), ExpiresAt: r0.Add(time.Hour), Version: int64(i + 1)})
	}
	cs, ds := r.Snapshot()
	nc, nd := r.Sizes()
	if len(cs) != nc || len(ds) != nd {
		t.Fatalf("Snapshot has %d cutoffs %d denials, Sizes says %d %d", len(cs), len(ds), nc, nd)
	}
	for i := 1; i < len(cs); i++ {
		a, b := cs[i-1], cs[i]
		if a.Claim > b.Claim || (a.Claim == b.Claim && a.Value >= b.Value) {
			t.Fatalf("cutoffs out of order at %d: %q/%q then %q/%q", i, a.Claim, a.Value, b.Claim, b.Value)
		}
	}
	for i := 1; i < len(ds); i++ {
		if ds[i-1].ID >= ds[i].ID {
			t.Fatalf("denials out of order at %d: %q then %q", i, ds[i-1].ID, ds[i].ID)
		}
	}
}

func TestReplicaReadyAndLastChange(t *testing.T) {
	clock := clocktest.New(r0)
	r := cache.NewReplica(clock, 0, 0)
	if r.Ready() {
		t.Errorf("new replica Ready = true, want false")
	}
	if got := r.LastChange(); !got.IsZero() {
		t.Errorf("LastChange before any change = %v, want zero", got)
	}
	clock.Add(time.Minute)
	r.ApplyDenial(cache.Denial{ID: "a", ExpiresAt: r0.Add(time.Hour), Version: 2})
	if got, want := r.LastChange(), r0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("LastChange = %v, want %v", got, want)
	}
	clock.Add(time.Minute)
	r.ApplyDenial(cache.Denial{ID: "a", ExpiresAt: r0.Add(time.Hour), Version: 1}) // ignored
	if got, want := r.LastChange(), r0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("LastChange after an ignored change = %v, want %v", got, want)
	}
	r.SetReady()
	if !r.Ready() {
		t.Errorf("Ready after SetReady = false, want true")
	}
}

// TestReplicaConcurrent applies reordered versions from several writers while
// readers look up, snapshot and prune; run it with -race. Whatever the
// interleaving, each key must end at its highest version.
func TestReplicaConcurrent(t *testing.T) {
	clock := clocktest.New(r0)
	r := cache.NewReplica(clock, time.Hour, 0)
	const keys, versions, writers = 64, 40, 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for _, v := range rng.Perm(versions) {
				for k := range keys {
					version := int64(v*writers + w + 1)
					r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: strconv.Itoa(k), Before: r0.Add(time.Duration(version) * time.Second), Version: version})
					r.ApplyDenial(cache.Denial{ID: strconv.Itoa(k), ExpiresAt: r0.Add(time.Hour + time.Duration(version)*time.Second), Version: version})
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k := range keys {
					r.Cutoff("sub", strconv.Itoa(k))
					r.Denied(strconv.Itoa(k))
				}
				r.Snapshot()
				r.Prune()
				r.Sizes()
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	top := int64(versions * writers)
	cs, ds := r.Snapshot()
	if len(cs) != keys || len(ds) != keys {
		t.Fatalf("ended with %d cutoffs %d denials, want %d each", len(cs), len(ds), keys)
	}
	for _, c := range cs {
		if c.Version != top || !c.Before.Equal(r0.Add(time.Duration(top)*time.Second)) {
			t.Errorf("cutoff %s = version %d before %v, want version %d", c.Value, c.Version, c.Before, top)
		}
	}
	for _, d := range ds {
		if d.Version != top {
			t.Errorf("denial %s = version %d, want %d", d.ID, d.Version, top)
		}
	}
	if got := r.Version(); got != top {
		t.Errorf("Version = %d, want %d", got, top)
	}
}

// fillReplica loads n denials with 36-byte ids shaped like jti UUIDs and n
// cutoffs on 20-digit subject ids, the shapes a real state holds.
func fillReplica(r *cache.Replica, n int) {
	buf := make([]byte, 0, 40)
	for i := range n {
		// "00000000-0000-4000-8000-" + 12 hex digits: 36 bytes, unique per i.
		buf = append(buf[:0], "00000000-0000-4000-8000-000000000000"...)
		h := strconv.AppendUint(nil, uint64(i)*7919, 16)
		copy(buf[36-len(h):], h)
		r.ApplyDenial(cache.Denial{ID: string(buf), ExpiresAt: r0.Add(time.Duration(i) * time.Millisecond), Version: int64(2*i + 1)})
		r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: strconv.FormatUint(10_000_000_000_000_000_000+uint64(i), 10), Before: r0, Version: int64(2*i + 2)})
	}
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestFillReplicaHoldsEveryEntry keeps BenchmarkReplicaMemory's count check
// on small data: every denial and cutoff written is held.
func TestFillReplicaHoldsEveryEntry(t *testing.T) {
	const n = 1000
	r := cache.NewReplica(clocktest.New(r0), 0, 0)
	fillReplica(r, n)
	if c, d := r.Sizes(); c != n || d != n {
		t.Fatalf("Sizes = (%d, %d), want (%d, %d)", c, d, n, n)
	}
}

func TestReplicaReject(t *testing.T) {
	us := func(t time.Time) int64 { return t.UnixMicro() }
	claims := []cache.ClaimValue{{Claim: "sub", Value: "42"}, {Claim: "sid", Value: "s1"}}
	start := us(r0)
	tests := []struct {
		name    string
		cutoffs []cache.Cutoff
		denials []cache.Denial
		altID   string
		want    cache.Rejection
	}{
		{name: "nothing held", want: cache.Rejection{}},
		{name: "cutoff after the start rejects",
			cutoffs: []cache.Cutoff{{Claim: "sub", Value: "42", Before: r0.Add(time.Microsecond)}},
			want:    cache.Rejection{Claim: "sub", Before: start + 1}},
		{name: "cutoff equal to the start does not (strictly before)",
			cutoffs: []cache.Cutoff{{Claim: "sub", Value: "42", Before: r0}}},
		{name: "cutoff on another value does not",
			cutoffs: []cache.Cutoff{{Claim: "sub", Value: "43", Before: r0.Add(time.Hour)}}},
		{name: "cutoff on an unlisted claim does not",
			cutoffs: []cache.Cutoff{{Claim: "org", Value: "42", Before: r0.Add(time.Hour)}}},
		{name: "the latest of two rejecting cutoffs is reported",
			cutoffs: []cache.Cutoff{
				{Claim: "sub", Value: "42", Before: r0.Add(time.Minute)},
				{Claim: "sid", Value: "s1", Before: r0.Add(time.Hour)},
			},
			want: cache.Rejection{Claim: "sid", Before: us(r0.Add(time.Hour))}},
		{name: "a cutoff wins over a denial",
			cutoffs: []cache.Cutoff{{Claim: "sub", Value: "42", Before: r0.Add(time.Minute)}},
			denials: []cache.Denial{{ID: "j1", ExpiresAt: r0.Add(time.Hour)}},
			want:    cache.Rejection{Claim: "sub", Before: us(r0.Add(time.Minute))}},
		{name: "denied id",
			denials: []cache.Denial{{ID: "j1", ExpiresAt: r0.Add(time.Hour)}},
			want:    cache.Rejection{Denied: true}},
		{name: "denied twin id",
			denials: []cache.Denial{{ID: "twin", ExpiresAt: r0.Add(time.Hour)}},
			altID:   "twin",
			want:    cache.Rejection{Denied: true}},
		{name: "expired denial no longer counts",
			denials: []cache.Denial{{ID: "j1", ExpiresAt: r0.Add(time.Minute)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cache.NewReplica(clocktest.New(r0), 0, 0)
			for i, c := range tc.cutoffs {
				c.Version = int64(i + 1)
				r.ApplyCutoff(c)
			}
			for i, d := range tc.denials {
				d.Version = int64(100 + i)
				r.ApplyDenial(d)
			}
			now := us(r0.Add(2 * time.Minute))
			if got := r.Reject(claims, start, "j1", tc.altID, now); got != tc.want {
				t.Errorf("Reject = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// BenchmarkReplicaLookup is the hot path: one cutoff and one denial lookup
// per validation, against a replica of 100k entries each.
func BenchmarkReplicaLookup(b *testing.B) {
	const n = 100_000
	r := cache.NewReplica(cache.SystemClock{}, 0, 0)
	fillReplica(r, n)
	subs := make([]string, 1024)
	ids := make([]string, 1024)
	cs, ds := r.Snapshot()
	for i := range subs {
		subs[i] = cs[i*97%n].Value
		ids[i] = ds[i*89%n].ID
		if i%2 == 1 { // misses are the common case
			subs[i] += "x"
			ids[i] += "x"
		}
	}
	now := time.Now().UnixMicro()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			claims := []cache.ClaimValue{{Claim: "sub", Value: subs[i&1023]}}
			r.Reject(claims, 0, ids[i&1023], "", now)
			i++
		}
	})
}

// BenchmarkReplicaMemory reports the heap for one million denials and one
// million cutoffs, keys included, and fails past a budget that keeps a
// sidecar's footprint modest:
//
//	go test -run '^$' -bench ReplicaMemory -benchtime 1x ./cache/
func BenchmarkReplicaMemory(b *testing.B) {
	const n = 1_000_000
	const budget = 400 << 20
	for range b.N {
		before := heapAlloc()
		r := cache.NewReplica(clocktest.New(r0), 0, 0)
		fillReplica(r, n)
		after := heapAlloc()
		if c, d := r.Sizes(); c != n || d != n {
			b.Fatalf("Sizes = (%d, %d), want (%d, %d)", c, d, n, n)
		}
		runtime.KeepAlive(r)
		used := after - before
		b.ReportMetric(float64(used)/(1<<20), "MiB")
		b.ReportMetric(float64(used)/(2*n), "B/entry")
		if used > budget {
			b.Errorf("replica uses %d MiB, want at most %d MiB", used>>20, budget>>20)
		}
	}
}

// TestReplicaPruneKeepsWhatIsRenewedMeanwhile races Prune against writes
// that replace expired denials with live ones: Prune scans under the read
// lock and deletes later, so it must look at each entry again before it
// deletes it. A live denial deleted here would be a revoked token let back in.
func TestReplicaPruneKeepsWhatIsRenewedMeanwhile(t *testing.T) {
	clock := clocktest.New(r0)
	r := cache.NewReplica(clock, 0, 0)
	const n = 2000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "jti-" + strconv.Itoa(i)
		r.ApplyDenial(cache.Denial{ID: ids[i], ExpiresAt: r0.Add(-time.Second), Version: int64(i + 1)})
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				r.Prune()
			}
		}
	})
	for i, id := range ids {
		r.ApplyDenial(cache.Denial{ID: id, ExpiresAt: r0.Add(time.Hour), Version: int64(n + i + 1)})
	}
	close(done)
	wg.Wait()
	r.Prune()
	for _, id := range ids {
		if !r.Denied(id) {
			t.Fatalf("%s: renewed denial lost to a concurrent Prune", id)
		}
	}
}
