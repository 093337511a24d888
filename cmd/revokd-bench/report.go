package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// runReport is one run of one target. Latencies are in microseconds; CPU
// figures are microseconds of CPU per request, 0 when not measured.
type runReport struct {
	Target      string  `json:"target"`
	Round       int     `json:"round"`
	Requests    int64   `json:"requests"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50         float64 `json:"p50_us"`
	P90         float64 `json:"p90_us"`
	P99         float64 `json:"p99_us"`
	P999        float64 `json:"p999_us"`
	Max         float64 `json:"max_us"`
	Active      int64   `json:"active"`
	Inactive    int64   `json:"inactive"`
	Errors      int64   `json:"errors"`
	Mismatches  int64   `json:"mismatches"`
	FreshReused int64   `json:"fresh_reused,omitempty"`
	ServerCPU   float64 `json:"server_cpu_us_per_req,omitempty"`
	ClientCPU   float64 `json:"client_cpu_us_per_req,omitempty"`
}

func micros(ns int64) float64 { return float64(ns) / 1e3 }

// newRunReport turns load stats into a report row.
func newRunReport(target string, round int, s *loadStats) runReport {
	r := runReport{
		Target: target, Round: round, Requests: s.Requests, Seconds: s.Elapsed.Seconds(),
		Active: s.Active, Inactive: s.Inactive, Errors: s.Errors, Mismatches: s.Mismatches,
	}
	if s.Elapsed > 0 {
		r.RPS = float64(s.Requests) / s.Elapsed.Seconds()
	}
	if s.Hist != nil && s.Hist.TotalCount() > 0 {
		r.P50 = micros(s.Hist.ValueAtQuantile(50))
		r.P90 = micros(s.Hist.ValueAtQuantile(90))
		r.P99 = micros(s.Hist.ValueAtQuantile(99))
		r.P999 = micros(s.Hist.ValueAtQuantile(99.9))
		r.Max = micros(s.Hist.Max())
	}
	return r
}

// perRequest divides a CPU time over n requests, in microseconds.
func perRequest(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

// spread is the minimum, median and maximum of a figure across runs.
type spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return spread{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// targetSummary is a target's figures across all its runs.
type targetSummary struct {
	Target    string `json:"target"`
	Runs      int    `json:"runs"`
	RPS       spread `json:"rps"`
	P50       spread `json:"p50_us"`
	P90       spread `json:"p90_us"`
	P99       spread `json:"p99_us"`
	P999      spread `json:"p999_us"`
	ServerCPU spread `json:"server_cpu_us_per_req"`
	ClientCPU spread `json:"client_cpu_us_per_req"`
	Errors    int64  `json:"errors"`
	Mismatch  int64  `json:"mismatches"`
}

// summarize groups runs by target, in the order targets first appear.
func summarize(runs []runReport) []targetSummary {
	var order []string
	by := map[string][]runReport{}
	for _, r := range runs {
		if _, ok := by[r.Target]; !ok {
			order = append(order, r.Target)
		}
		by[r.Target] = append(by[r.Target], r)
	}
	out := make([]targetSummary, 0, len(order))
	for _, name := range order {
		rs := by[name]
		pick := func(f func(runReport) float64) spread {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = f(r)
			}
			return spreadOf(xs)
		}
		s := targetSummary{Target: name, Runs: len(rs),
			RPS:       pick(func(r runReport) float64 { return r.RPS }),
			P50:       pick(func(r runReport) float64 { return r.P50 }),
			P90:       pick(func(r runReport) float64 { return r.P90 }),
			P99:       pick(func(r runReport) float64 { return r.P99 }),
			P999:      pick(func(r runReport) float64 { return r.P999 }),
			ServerCPU: pick(func(r runReport) float64 { return r.ServerCPU }),
			ClientCPU: pick(func(r runReport) float64 { return r.ClientCPU }),
		}
		for _, r := range rs {
			s.Errors += r.Errors
			s.Mismatch += r.Mismatches
		}
		out = append(out, s)
	}
	return out
}

// cpuCell formats a CPU figure, or "-" when it was not measured.
func cpuCell(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// writeRuns prints one line per run.
func writeRuns(w io.Writer, runs []runReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tround\trequests\treq/s\tp50 µs\tp90 µs\tp99 µs\tp999 µs\tmax µs\tsrv cpu µs/req\tgen cpu µs/req\terrors\tmismatch\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%d\t%d\t\n",
			r.Target, r.Round, r.Requests, r.RPS, r.P50, r.P90, r.P99, r.P999, r.Max,
			cpuCell(r.ServerCPU), cpuCell(r.ClientCPU), r.Errors, r.Mismatches)
	}
	return tw.Flush()
}

// spreadCell formats "median [min–max]".
func spreadCell(s spread, format string) string {
	return fmt.Sprintf(format+" ["+format+"–"+format+"]", s.Median, s.Min, s.Max)
}

// writeSummary prints one line per target: the median and, in brackets,
// the range across runs.
func writeSummary(w io.Writer, sums []targetSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\truns\treq/s\tp50 µs\tp90 µs\tp99 µs\tp999 µs\tsrv cpu µs/req\terrors\tmismatch")
	for _, s := range sums {
		cpu := "-"
		if s.ServerCPU.Max > 0 {
			cpu = spreadCell(s.ServerCPU, "%.1f")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n",
			s.Target, s.Runs, spreadCell(s.RPS, "%.0f"), spreadCell(s.P50, "%.1f"),
			spreadCell(s.P90, "%.1f"), spreadCell(s.P99, "%.1f"), spreadCell(s.P999, "%.1f"),
			cpu, s.Errors, s.Mismatch)
	}
	return tw.Flush()
}

// checkResult is one ratio target judged on the runs.
type checkResult struct {
	Name    string  `json:"name"`
	Ratio   spread  `json:"ratio"` // per-round ratios
	Op      string  `json:"op"`    // "<=" or ">="
	Limit   float64 `json:"limit"`
	Verdict string  `json:"verdict"` // PASS, MISS or SKIP
	Note    string  `json:"note,omitempty"`
}

// judge compares the median per-round ratio with the limit.
func judge(name string, ratios []float64, op string, limit float64) checkResult {
	c := checkResult{Name: name, Op: op, Limit: limit, Verdict: "SKIP"}
	if len(ratios) == 0 {
		c.Note = "not measured"
		return c
	}
	c.Ratio = spreadOf(ratios)
	pass := c.Ratio.Median >= limit
	if op == "<=" {
		pass = c.Ratio.Median <= limit
	}
	c.Verdict = "MISS"
	if pass {
		c.Verdict = "PASS"
	}
	return c
}

func writeChecks(w io.Writer, checks []checkResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tratio median [min–max]\twant\tverdict")
	for _, c := range checks {
		ratio := "-"
		if c.Verdict != "SKIP" {
			ratio = spreadCell(c.Ratio, "%.3f")
		}
		verdict := c.Verdict
		if c.Note != "" {
			verdict += " (" + c.Note + ")"
		}
		sym := "≤"
		if c.Op == ">=" {
			sym = "≥"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %.2f\t%s\n", c.Name, ratio, sym, c.Limit, verdict)
	}
	return tw.Flush()
}

// report is everything one invocation measured, as written by --json.
type report struct {
	Settings map[string]any  `json:"settings"`
	Runs     []runReport     `json:"runs"`
	Summary  []targetSummary `json:"summary"`
	Checks   []checkResult   `json:"checks,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
}

func writeJSON(w io.Writer, r report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}
