package main

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go runs on; reading it properly needs
// sysconf(_SC_CLK_TCK), which pure Go cannot call.
const clockTicks = 100

// cpuTime is a process's CPU time so far, user plus system.
type cpuTime time.Duration

// parseProcStat reads utime and stime (fields 14 and 15) from the contents
// of /proc/PID/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted after the last ')'.
func parseProcStat(data []byte) (cpuTime, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("proc stat: no command name in %q", data)
	}
	fields := bytes.Fields(data[end+1:])
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("proc stat: bad tick count %q", f)
		}
		ticks += n
	}
	return cpuTime(ticks * int64(time.Second) / clockTicks), nil
}

// readCPU returns pid's CPU time; pid 0 means this process.
func readCPU(pid int) (cpuTime, error) {
	path := "/proc/self/stat"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return parseProcStat(data)
}

// cpuMeter measures the CPU a set of processes spend over an interval.
type cpuMeter struct {
	pids  []int
	start []cpuTime
}

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: make([]cpuTime, len(pids))}
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
		total += time.Duration(max(0, now-m.start[i]))
	}
	if read == 0 && firstErr != nil {
		return 0, firstErr
	}
	return total, nil
}

// parsePPID reads the parent PID (field 4) from the contents of /proc/PID/stat.
func parsePPID(data []byte) (int, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("proc stat: no command name in %q", data)
	}
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("proc stat: no parent PID in %q", data)
	}
	return strconv.Atoi(string(fields[1]))
}

// treePIDs returns root and every process below it, read from /proc. The
// PostgreSQL baseline counts its server's CPU with this: the postmaster and
// a backend per pooled connection.
func treePIDs(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if ppid, err := parsePPID(data); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// findProcess returns the PID of the process whose command line holds arg,
// or 0.
func findProcess(name, arg string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
		if len(args) == 0 || !bytes.HasSuffix(args[0], []byte(name)) {
			continue
		}
		for _, a := range args[1:] {
			if string(a) == arg {
				return pid
			}
		}
	}
	return 0
}
