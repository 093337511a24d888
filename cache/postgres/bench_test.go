package postgres

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/procfs"

	"github.com/revokd/revokd/cache"
)

// The figures in BENCHMARKS.md come from the two benchmarks here; the tests
// beside them keep what the benchmarks check (every revocation applied, the
// whole snapshot loaded) on data small enough for every `go test`:
//
//	go test -run '^$' -bench 'Propagation|SnapshotLoad' -benchtime 1x -v ./cache/postgres/

// TestPropagationAppliesEveryRevocation: each revocation an app commits is
// applied by another daemon's feed, in order, and denies the token.
func TestPropagationAppliesEveryRevocation(t *testing.T) {
	propagate(t, 50)
}

// BenchmarkPropagation times each revocation from the start of the app's
// committing statement to the moment another daemon's feed has applied it
// to its replica, and reports the percentiles.
func BenchmarkPropagation(b *testing.B) {
	lat := propagate(b, max(b.N, 2000))
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	b.ReportMetric(float64(pct(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	b.Logf("propagation over %d revocations (commit by an app connection -> applied by another daemon's replica, Unix socket): p50 %v  p90 %v  p99 %v  max %v",
		len(lat), pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1])
}

// propagate commits n revocations from an app connection, waits for a
// running daemon to apply each, checks it is denied, and returns each one's
// latency. It waits for each change itself; go test's -timeout stops a hang.
func propagate(t testing.TB, n int) []time.Duration {
	t.Helper()
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
	return lat
}

// TestSnapshotLoadsEveryRow: a snapshot of bulk-loaded rows (no
// notifications) fills a fresh replica with exactly the database's rows.
func TestSnapshotLoadsEveryRow(t *testing.T) {
	url := migratedDB(t)
	conn := connect(t, url)
	bulkLoad(t, conn, 1000)
	d := start(t, testConfig(t, url))
	waitReady(d)
	cs, ds := dbState(t, conn)
	if len(cs) != 1000 || len(ds) != 1000 {
		t.Fatalf("database holds %d cutoffs, %d denials; want 1000 each", len(cs), len(ds))
	}
	if err := sameState(d.replica, cs, ds); err != nil {
		t.Error(err)
	}
}

// BenchmarkSnapshotLoad loads a million denials and a million cutoffs into
// a fresh replica per iteration and reports the time until ready and the
// process's resident set after.
func BenchmarkSnapshotLoad(b *testing.B) {
	const n = 1_000_000
	url := migratedDB(b)
	conn := connect(b, url)
	begin := time.Now()
	bulkLoad(b, conn, n)
	b.Logf("bulk insert of %d denials + %d cutoffs: %v", n, n, time.Since(begin))
	runtime.GC()
	rssBefore := vmRSS(b)
	b.ResetTimer()
	for range b.N {
		cfg := testConfig(b, url)
		cfg.Clock = cache.SystemClock{}
		cfg.Replica = cache.NewReplica(cfg.Clock, 0, 0)
		cfg.Heartbeat = DefaultHeartbeat
		begin := time.Now()
		d := start(b, cfg)
		waitReady(d)
		load := time.Since(begin)
		b.StopTimer()
		rssLoaded := vmRSS(b)
		c, dn := d.replica.Sizes()
		if c != n || dn != n {
			b.Fatalf("replica holds %d cutoffs, %d denials; want %d each", c, dn, n)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(load.Milliseconds()), "ms-to-ready")
		b.ReportMetric(float64(rssLoaded>>20), "MB-rss-loaded")
		b.Logf("snapshot: %d cutoffs + %d denials ready in %v; VmRSS %d MB before, %d MB right after load, %d MB after GC; heap in use %d MB",
			c, dn, load, rssBefore>>20, rssLoaded>>20, vmRSS(b)>>20, ms.HeapInuse>>20)
		d.stop(b)
		b.StartTimer()
	}
}

// bulkLoad inserts n denials and n cutoffs (a tenth of them on sid) without
// the triggers, so no notification is sent; the column default still takes
// each version from the sequence.
func bulkLoad(t testing.TB, conn *pgx.Conn, n int) {
	t.Helper()
	mustExec(t, conn, "SET session_replication_role = replica")
	mustExec(t, conn, `INSERT INTO revokd.denials (token_id, expires_at)
		SELECT md5(i::text) || '-' || i, now() + interval '1 day' + i * interval '1 millisecond' FROM generate_series(1, $1) i`, n)
	mustExec(t, conn, `INSERT INTO revokd.cutoffs (claim, value, before)
		SELECT CASE WHEN i % 10 = 0 THEN 'sid' ELSE 'sub' END, (10000000000000000000::numeric + i)::text, now() - i * interval '1 second'
		FROM generate_series(1, $1) i`, n)
	mustExec(t, conn, "SET session_replication_role = DEFAULT")
	mustExec(t, conn, "VACUUM ANALYZE revokd.denials, revokd.cutoffs")
}

// waitReady waits for the snapshot itself, however long a busy machine
// takes; go test's -timeout stops a hung run.
func waitReady(d *daemon) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !d.replica.Ready() {
		<-tick.C
	}
}

// vmRSS reads the process's resident set size in bytes.
func vmRSS(t testing.TB) uint64 {
	t.Helper()
	p, err := procfs.Self()
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.NewStatus()
	if err != nil {
		t.Fatal(err)
	}
	return st.VmRSS
}
