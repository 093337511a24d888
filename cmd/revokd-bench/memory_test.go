package main

import (
	"os"
	"slices"
	"testing"
)

func TestReadRSSOfSelf(t *testing.T) {
	rss, hwm, err := readRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("rss %v, peak %v: want 0 < rss <= peak", rss, hwm)
	}
	if _, _, err := readRSS(1 << 30); err == nil {
		t.Error("readRSS of a PID that cannot exist: got no error")
	}
}

func TestParseMetrics(t *testing.T) {
	body := []byte(`# HELP go_memstats_heap_alloc_bytes Number of heap bytes allocated.
# TYPE go_memstats_heap_alloc_bytes gauge
go_memstats_heap_alloc_bytes 1.048576e+06
go_memstats_heap_alloc_bytes_total 5
revokd_requests_total{op="validate",outcome="ok"} 7
go_gc_gomemlimit_bytes 9.223372036854776e+18
`)
	got := parseMetrics(body, []string{"go_memstats_heap_alloc_bytes", "go_gc_gomemlimit_bytes", "absent"})
	want := []float64{1 << 20, 9.223372036854776e+18, -1}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseInts(t *testing.T) {
	if got, err := parseInts("8, 64"); err != nil || !slices.Equal(got, []int{8, 64}) {
		t.Errorf("parseInts(%q) = %v, %v; want [8 64]", "8, 64", got, err)
	}
	for _, bad := range []string{"", "8,x", "-1"} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q) succeeded, want an error", bad)
		}
	}
}
