package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want spread
	}{
		{"empty", nil, spread{}},
		{"one", []float64{5}, spread{5, 5, 5}},
		{"odd unsorted", []float64{9, 1, 4}, spread{1, 4, 9}},
		{"even takes the mean of the middle two", []float64{4, 1, 10, 2}, spread{1, 3, 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := spreadOf(tc.in); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNewRunReportPercentiles(t *testing.T) {
	h := newHistogram()
	// 1000 answers: 1 µs … 1000 µs, one each.
	for i := int64(1); i <= 1000; i++ {
		h.RecordValue(i * int64(time.Microsecond))
	}
	r := newRunReport("x", 2, &loadStats{Requests: 1000, Elapsed: 2 * time.Second, Hist: h, Errors: 3})
	if r.RPS != 500 {
		t.Errorf("rps = %v, want 500", r.RPS)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", r.P50, 500}, {"p90", r.P90, 900}, {"p99", r.P99, 990}, {"p999", r.P999, 999}, {"max", r.Max, 1000}} {
		// HDR keeps 3 significant digits.
		if c.got < c.want*0.999 || c.got > c.want*1.001 {
			t.Errorf("%s = %v µs, want %v", c.name, c.got, c.want)
		}
	}
	if r.Errors != 3 || r.Round != 2 || r.Target != "x" {
		t.Errorf("got %+v", r)
	}
}

func TestSummarizeKeepsOrderAndSpread(t *testing.T) {
	runs := []runReport{
		{Target: "b", Round: 1, RPS: 100, P50: 10, Errors: 1},
		{Target: "a", Round: 1, RPS: 50, P50: 20},
		{Target: "b", Round: 2, RPS: 300, P50: 30, Mismatches: 2},
		{Target: "a", Round: 2, RPS: 70, P50: 40},
		{Target: "b", Round: 3, RPS: 200, P50: 20},
	}
	sums := summarize(runs)
	if len(sums) != 2 || sums[0].Target != "b" || sums[1].Target != "a" {
		t.Fatalf("got targets %v, want b then a", sums)
	}
	if got, want := sums[0].RPS, (spread{100, 200, 300}); got != want {
		t.Errorf("b rps = %+v, want %+v", got, want)
	}
	if got, want := sums[1].P50, (spread{20, 30, 40}); got != want {
		t.Errorf("a p50 = %+v, want %+v", got, want)
	}
	if sums[0].Runs != 3 || sums[0].Errors != 1 || sums[0].Mismatch != 2 {
		t.Errorf("b = %+v, want 3 runs, 1 error, 2 mismatches", sums[0])
	}
}

func TestTables(t *testing.T) {
	runs := []runReport{
		{Target: "echo-ndjson", Round: 1, Requests: 1000, RPS: 123456.4, P50: 38.25, P90: 50, P99: 90, P999: 200, Max: 300, ServerCPU: 5.5},
		{Target: "revokd-ndjson", Round: 1, Requests: 900, RPS: 100000, P50: 40, P90: 60, P99: 100, P999: 300, Max: 400},
	}
	var buf bytes.Buffer
	if err := writeRuns(&buf, runs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"echo-ndjson", "123456", "38.2", "5.5", "revokd-ndjson"} {
		if !strings.Contains(out, want) {
			t.Errorf("runs table lacks %q:\n%s", want, out)
		}
	}
	// Server CPU not measured shows as "-", not 0.0.
	if !strings.Contains(strings.Split(out, "\n")[2], " - ") {
		t.Errorf("unmeasured CPU is not shown as '-':\n%s", out)
	}
	buf.Reset()
	if err := writeSummary(&buf, summarize(runs)); err != nil {
		t.Fatal(err)
	}
	if want := "123456 [123456–123456]"; !strings.Contains(buf.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, buf.String())
	}
	buf.Reset()
	checks := []checkResult{
		judge("throughput", []float64{0.9, 0.7, 0.85}, ">=", 0.8),
		judge("latency", []float64{0.6}, "<=", 0.5),
		judge("redis", nil, "<=", 0.8),
	}
	if err := writeChecks(&buf, checks); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	for _, want := range []string{"0.850 [0.700–0.900]", "≥ 0.80", "PASS"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("check line %q lacks %q", lines[1], want)
		}
	}
	if !strings.Contains(lines[2], "MISS") || !strings.Contains(lines[2], "≤ 0.50") {
		t.Errorf("check line %q: want MISS and ≤ 0.50", lines[2])
	}
	if !strings.Contains(lines[3], "SKIP (not measured)") {
		t.Errorf("check line %q: want SKIP (not measured)", lines[3])
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name   string
		ratios []float64
		op     string
		limit  float64
		want   string
	}{
		{"at least, median above", []float64{0.5, 0.9, 0.95}, ">=", 0.8, "PASS"},
		{"at least, median below despite a good run", []float64{0.5, 0.7, 0.95}, ">=", 0.8, "MISS"},
		{"at least, exactly the limit", []float64{0.8}, ">=", 0.8, "PASS"},
		{"at most, below", []float64{0.3, 0.4}, "<=", 0.5, "PASS"},
		{"at most, above", []float64{0.6}, "<=", 0.5, "MISS"},
		{"nothing measured", nil, "<=", 0.5, "SKIP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := judge("x", tc.ratios, tc.op, tc.limit).Verdict; got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPairRatiosAndTargets(t *testing.T) {
	runs := []runReport{
		{Target: tEchoNDJSON, Round: 1, RPS: 100},
		{Target: tRevokdNDJSON, Round: 1, RPS: 90, P50: 10},
		{Target: tPG, Round: 1, P50: 40},
		{Target: tEchoNDJSON, Round: 2, RPS: 200},
		{Target: tRevokdNDJSON, Round: 2, RPS: 100, P50: 30},
		{Target: tPG, Round: 2, P50: 50},
		{Target: tRevokdNDJSON, Round: 3, RPS: 100}, // its echo run is missing: no ratio
	}
	if got := pairRatios(runs, tRevokdNDJSON, tEchoNDJSON, rps); len(got) != 2 || got[0] != 0.9 || got[1] != 0.5 {
		t.Errorf("pairRatios = %v, want [0.9 0.5]", got)
	}
	checks := judgeTargets(runs, map[string]string{tRedis: "redis-server is not on PATH"})
	byName := map[string]checkResult{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	if c := byName["NDJSON validate/echo throughput"]; c.Verdict != "MISS" || c.Ratio.Median != 0.7 {
		t.Errorf("throughput check = %+v, want MISS at median 0.7", c)
	}
	if c := byName["NDJSON p50 / PostgreSQL-lookup p50"]; c.Verdict != "PASS" {
		t.Errorf("pg check = %+v, want PASS (ratios 0.25 and 0.6, median 0.425)", c)
	}
	if c := byName["NDJSON p50 / Redis-EXISTS p50"]; c.Verdict != "SKIP" || !strings.Contains(c.Note, "not on PATH") {
		t.Errorf("redis check = %+v, want SKIP naming the reason", c)
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	rep := report{Runs: []runReport{{Target: "t", RPS: 1}}, Summary: summarize([]runReport{{Target: "t", RPS: 1}})}
	if err := writeJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("report JSON does not parse back: %v\n%s", err, buf.String())
	}
	if len(back.Runs) != 1 || back.Summary[0].RPS.Median != 1 {
		t.Errorf("got %+v", back)
	}
}
