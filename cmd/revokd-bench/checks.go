package main

import "fmt"

// pairRatios returns, for every round where both ran, f(num)/f(den).
func pairRatios(runs []runReport, num, den string, f func(runReport) float64) []float64 {
	type pair struct{ n, d *runReport }
	rounds := map[int]*pair{}
	var order []int
	for i := range runs {
		r := &runs[i]
		if r.Target != num && r.Target != den {
			continue
		}
		p, ok := rounds[r.Round]
		if !ok {
			p = &pair{}
			rounds[r.Round] = p
			order = append(order, r.Round)
		}
		if r.Target == num {
			p.n = r
		} else {
			p.d = r
		}
	}
	var out []float64
	for _, round := range order {
		p := rounds[round]
		if p.n == nil || p.d == nil || f(*p.d) == 0 {
			continue
		}
		out = append(out, f(*p.n)/f(*p.d))
	}
	return out
}

func rps(r runReport) float64 { return r.RPS }
func p50(r runReport) float64 { return r.P50 }

// judgeTargets judges the ratio targets on the runs. A target whose
// runs are missing is SKIP, with skipped's reason when there is one.
func judgeTargets(runs []runReport, skipped map[string]string) []checkResult {
	type spec struct {
		name     string
		num, den string
		f        func(runReport) float64
		op       string
		limit    float64
	}
	specs := []spec{
		{"NDJSON validate/echo throughput", tRevokdNDJSON, tEchoNDJSON, rps, ">=", 0.8},
		{"HTTP validate/echo throughput", tRevokdHTTP, tEchoHTTP, rps, ">=", 0.8},
		{"NDJSON p50 / PostgreSQL-lookup p50", tRevokdNDJSON, tPG, p50, "<=", 0.5},
		{"NDJSON p50 / Redis-EXISTS p50", tRevokdNDJSON, tRedis, p50, "<=", 0.8},
	}
	for _, alg := range algorithms[1:] {
		specs = append(specs,
			spec{fmt.Sprintf("seen %s p50 / HS256 p50", alg), algTarget(alg), tRevokdNDJSON, p50, "<=", 1.2},
			spec{fmt.Sprintf("HS256 / seen %s throughput", alg), tRevokdNDJSON, algTarget(alg), rps, "<=", 1.2},
		)
	}
	out := make([]checkResult, 0, len(specs))
	for _, s := range specs {
		c := judge(s.name, pairRatios(runs, s.num, s.den, s.f), s.op, s.limit)
		if c.Verdict == "SKIP" {
			for _, t := range []string{s.num, s.den} {
				if why, ok := skipped[t]; ok {
					c.Note = t + ": " + why
				}
			}
		}
		out = append(out, c)
	}
	return out
}
