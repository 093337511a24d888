package postgres

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
)

// The figures for the closing note come from these two tests. They run with
// every `go test` and check what they measure (every revocation applied, the
// whole snapshot loaded); they never judge a duration. Their figures are in
// the -v output:
//
//	go test -count=1 -run TestMeasure -v ./cache/postgres/

// TestMeasurePropagation times each revocation from the start of the app's
// committing statement to the moment the other daemon's feed has applied
// it to its replica.
func TestMeasurePropagation(t *testing.T) {
	const n = 2000
	url := migratedDB(t)
	app := connect(t, url)

	cfg := testConfig(t, url)
	cfg.Heartbeat = DefaultHeartbeat
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan string, 1)
	s.appliedHook = func(c change) { applied <- c.Key }
	other := run(t, s)
	other.waitSynced(t)

	lat := make([]time.Duration, 0, n)
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("jti-%d", i)
		start := time.Now()
		if _, err := app.Exec(ctx, "SELECT revokd.revoke_token($1, now() + interval '1 hour')", id); err != nil {
			t.Fatal(err)
		}
		if got := <-applied; got != id {
			t.Fatalf("applied %q, want %q", got, id)
		}
		lat = append(lat, time.Since(start))
		if !other.replica.Denied(id) {
			t.Fatalf("%s applied but not denied", id)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("propagation over %d revocations (commit by an app connection -> applied by another daemon's replica, Unix socket): p50 %v  p90 %v  p99 %v  max %v",
		n, pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1])
}

// TestMeasureSnapshot loads a million denials and a million cutoffs into a
// fresh replica and reports the time until ready and the memory after.
func TestMeasureSnapshot(t *testing.T) {
	url := migratedDB(t)
	conn := connect(t, url)
	begin := time.Now()
	// Bulk load without the triggers (no million notifications); the
	// column default still takes each version from the sequence.
	mustExec(t, conn, "SET session_replication_role = replica")
	mustExec(t, conn, `INSERT INTO revokd.denials (token_id, expires_at)
		SELECT md5(i::text) || '-' || i, now() + interval '1 day' + i * interval '1 millisecond' FROM generate_series(1, 1000000) i`)
	mustExec(t, conn, `INSERT INTO revokd.cutoffs (claim, value, before)
		SELECT CASE WHEN i % 10 = 0 THEN 'sid' ELSE 'sub' END, (10000000000000000000::numeric + i)::text, now() - i * interval '1 second'
		FROM generate_series(1, 1000000) i`)
	mustExec(t, conn, "VACUUM ANALYZE revokd.denials, revokd.cutoffs")
	t.Logf("bulk insert of 1M denials + 1M cutoffs: %v", time.Since(begin))

	runtime.GC()
	rssBefore := vmRSS(t)
	cfg := testConfig(t, url)
	cfg.Clock = cache.SystemClock{}
	cfg.Replica = cache.NewReplica(cfg.Clock, 0, 0)
	cfg.Heartbeat = DefaultHeartbeat
	begin = time.Now()
	d := start(t, cfg)
	// Two million rows under -race on a busy machine can take longer than
	// waitFor's bound: wait for the load itself (go test's -timeout still
	// stops a hung run).
	tick := time.NewTicker(time.Millisecond)
	for !d.replica.Ready() {
		<-tick.C
	}
	tick.Stop()
	load := time.Since(begin)
	rssLoaded := vmRSS(t)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c, dn := d.replica.Sizes()
	t.Logf("snapshot: %d cutoffs + %d denials ready in %v; VmRSS %d MB before, %d MB right after load, %d MB after GC; heap in use %d MB",
		c, dn, load, rssBefore>>20, rssLoaded>>20, vmRSS(t)>>20, ms.HeapInuse>>20)
	if c != 1_000_000 || dn != 1_000_000 {
		t.Errorf("replica holds %d cutoffs, %d denials; want 1M each", c, dn)
	}
}

// vmRSS reads the process's resident set size in bytes.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
