package main

import (
	"os"
	"slices"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		rss, hwm float64
		wantErr  bool
	}{
		{"both", "Name:\trevokd\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t5\n", 1 << 20, 2 << 20, false},
		{"no rss", "Name:\trevokd\nVmHWM:\t  2048 kB\n", 0, 0, true},
		{"bad unit", "VmHWM:\t2 MB\nVmRSS:\t1 MB\n", 0, 0, true},
		{"bad number", "VmHWM:\tx kB\nVmRSS:\t1 kB\n", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rss, hwm, err := parseProcStatus([]byte(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %t", err, tc.wantErr)
			}
			if rss != tc.rss || hwm != tc.hwm {
				t.Errorf("got rss %v hwm %v, want %v %v", rss, hwm, tc.rss, tc.hwm)
			}
		})
	}
}

func TestReadProcStatusOfSelf(t *testing.T) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	rss, hwm, err := parseProcStatus(data)
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("rss %v, peak %v: want 0 < rss <= peak", rss, hwm)
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
