package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// proc opens /proc/PID; pid 0 means this process.
func proc(pid int) (procfs.Proc, error) {
	if pid == 0 {
		return procfs.Self()
	}
	return procfs.NewProc(pid)
}

// readCPU returns pid's CPU time so far, user plus system; pid 0 means this
// process.
func readCPU(pid int) (time.Duration, error) {
	p, err := proc(pid)
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	st, err := p.Stat()
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return time.Duration(st.CPUTime() * float64(time.Second)), nil
}

// cpuMeter measures the CPU a set of processes spend over an interval.
type cpuMeter struct {
	pids  []int
	start []time.Duration
}

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: make([]time.Duration, len(pids))}
	for i, p := range pids {
		m.start[i], _ = readCPU(p) // a failed read shows up in stop
	}
	return m
}

// stop returns the CPU time spent since startCPU, summed over the
// processes. One that exited meanwhile (a PostgreSQL backend whose
// connection closed) is left out; it fails only when none can be read.
func (m *cpuMeter) stop() (time.Duration, error) {
	var total time.Duration
	var firstErr error
	read := 0
	for i, p := range m.pids {
		now, err := readCPU(p)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		read++
		total += max(0, now-m.start[i])
	}
	if read == 0 && firstErr != nil {
		return 0, firstErr
	}
	return total, nil
}

// treePIDs returns root and every process below it, read from /proc. The
// PostgreSQL baseline counts its server's CPU with this: the postmaster and
// a backend per pooled connection.
func treePIDs(root int) []int {
	procs, _ := procfs.AllProcs()
	children := map[int][]int{}
	for _, p := range procs {
		if st, err := p.Stat(); err == nil { // else it exited meanwhile
			children[st.PPID] = append(children[st.PPID], p.PID)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// findProcess returns the PID of the process named name (its program path
// ends with it) whose arguments hold arg, or 0.
func findProcess(name, arg string) int {
	procs, _ := procfs.AllProcs()
	for _, p := range procs {
		args, err := p.CmdLine()
		if err != nil || len(args) == 0 || !strings.HasSuffix(args[0], name) {
			continue
		}
		if slices.Contains(args[1:], arg) {
			return p.PID
		}
	}
	return 0
}
