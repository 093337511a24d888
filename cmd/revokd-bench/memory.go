package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// memoryFlags are `revokd-bench memory`'s options.
type memoryFlags struct {
	revokd      string
	revokdArgs  stringList
	env         stringList
	cacheMB     string
	checkpoints string
	claimsBytes int
	conns       int
	batch       int
	settle      time.Duration
	workDir     string
	keep        bool
}

// memSample is one reading of the daemon's memory.
type memSample struct {
	CacheMB    int     `json:"cache_mb"`
	Tokens     int     `json:"tokens"`
	TokenBytes int     `json:"token_bytes"`
	RSSMB      float64 `json:"rss_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	HeapMB     float64 `json:"heap_alloc_mb"`
	InuseMB    float64 `json:"heap_inuse_mb"`
	NextGCMB   float64 `json:"next_gc_mb"`
	LimitMB    float64 `json:"gomemlimit_mb"` // 0 when none is set
	// CPUus is the daemon's CPU time per token validated since the last
	// reading: what a tighter heap costs in collections shows here.
	CPUus float64 `json:"cpu_us_per_token"`
}

// runMemory is `revokd-bench memory`: it starts `revokd serve` once per
// --cache-mb setting, validates distinct never-seen tokens through it (so
// each one is verified and offered to the verified-token cache), and reads
// the daemon's RSS from /proc and its heap from its own /metrics at each
// checkpoint. It answers "what does --token-cache-mb cost in RSS", which a
// throughput run with a thousand tokens never reaches.
func runMemory(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("memory", flag.ContinueOnError)
	var mf memoryFlags
	fs.StringVar(&mf.revokd, "revokd", "", "path to the revokd binary (required)")
	fs.Var(&mf.revokdArgs, "revokd-arg", "extra argument for `revokd serve` (repeatable)")
	fs.Var(&mf.env, "env", "NAME=VALUE set in revokd's environment, e.g. GOMEMLIMIT=off (repeatable)")
	fs.StringVar(&mf.cacheMB, "cache-mb", "8,64", "comma list of --token-cache-mb settings; one daemon each")
	fs.StringVar(&mf.checkpoints, "tokens", "60000,200000,800000", "comma list, ascending: distinct tokens validated so far at which to read memory")
	fs.IntVar(&mf.claimsBytes, "claims-bytes", 0, "pad each token's claims with a string of this many bytes (large tokens)")
	fs.IntVar(&mf.conns, "conns", 2, "connections validating at once")
	fs.IntVar(&mf.batch, "batch", 1000, "tokens per pipelined batch on one connection")
	fs.DurationVar(&mf.settle, "settle", time.Second, "pause before each reading, with no load")
	fs.StringVar(&mf.workDir, "work-dir", "", "directory for keys, sockets and logs (default: a temporary one)")
	fs.BoolVar(&mf.keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if mf.revokd == "" {
		return errors.New("memory: --revokd is required")
	}
	settings, err := parseInts(mf.cacheMB)
	if err != nil {
		return fmt.Errorf("memory: --cache-mb: %w", err)
	}
	checkpoints, err := parseInts(mf.checkpoints)
	if err != nil {
		return fmt.Errorf("memory: --tokens: %w", err)
	}
	for i := 1; i < len(checkpoints); i++ {
		if checkpoints[i] <= checkpoints[i-1] {
			return fmt.Errorf("memory: --tokens must ascend, got %v", checkpoints)
		}
	}
	if mf.conns < 1 || mf.batch < 1 || mf.claimsBytes < 0 {
		return errors.New("memory: --conns and --batch must be positive, --claims-bytes not negative")
	}
	env := os.Environ()
	for _, kv := range mf.env {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("memory: --env %q is not NAME=VALUE", kv)
		}
		env = append(env, kv)
	}

	e, err := newCompareEnv(compareFlags{revokd: mf.revokd, workDir: mf.workDir, keep: mf.keep}, log)
	if err != nil {
		return err
	}
	defer e.close()

	var samples []memSample
	for _, mb := range settings {
		got, err := memoryRun(ctx, e, mf, env, mb, checkpoints)
		if err != nil {
			return err
		}
		samples = append(samples, got...)
	}
	fmt.Fprintf(stdout, "\n== revokd memory (%s; env %v; settle %v)\n", mf.revokd, []string(mf.env), mf.settle)
	return writeMemory(stdout, samples)
}

// memoryRun starts one daemon with a cache of mb MiB and reads its memory
// at each checkpoint.
func memoryRun(ctx context.Context, e *compareEnv, mf memoryFlags, env []string, mb int, checkpoints []int) ([]memSample, error) {
	name := fmt.Sprintf("revokd-%dmb", mb)
	sock := e.sock(name)
	args := append([]string{"serve", "--socket", sock, "--data-dir", filepath.Join(e.dir, name+"-data"),
		"--token-cache-mb", strconv.Itoa(mb)}, e.keyFiles.ServeArgs()...)
	args = append(args, mf.revokdArgs...)
	c, err := startChildEnv(name, e.dir, env, mf.revokd, args...)
	if err != nil {
		return nil, err
	}
	e.children = append(e.children, c)
	if err := c.waitReady(ctx, time.Minute, func() error { return daemonReady(ctx, sock) }); err != nil {
		return nil, err
	}
	defer c.stop()

	nonce := fmt.Sprintf("%x-%d", time.Now().UnixNano(), mb)
	now := time.Now()
	pad := strings.Repeat("x", mf.claimsBytes)
	read := func(tokens, tokenBytes int) (memSample, error) {
		select {
		case <-ctx.Done():
			return memSample{}, ctx.Err()
		case <-time.After(mf.settle):
		}
		s, err := readMemory(ctx, c.pid(), sock)
		s.CacheMB, s.Tokens, s.TokenBytes = mb, tokens, tokenBytes
		return s, err
	}
	first, err := read(0, 0)
	if err != nil {
		return nil, err
	}
	out := []memSample{first}
	done := 0
	var tokenBytes atomic.Int64
	for _, cp := range checkpoints {
		cpu := startCPU(c.pid())
		if err := feedDistinct(ctx, e.keys, sock, nonce, pad, now, done, cp, mf, &tokenBytes); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		spent, err := cpu.stop()
		if err != nil {
			return nil, err
		}
		s, err := read(cp, int(tokenBytes.Load()/int64(cp)))
		if err != nil {
			return nil, err
		}
		s.CPUus = float64(spent.Microseconds()) / float64(cp-done)
		done = cp
		e.log.Info("memory", "cache_mb", mb, "tokens", cp, "rss_mb", s.RSSMB, "heap_mb", s.HeapMB)
		out = append(out, s)
	}
	return out, nil
}

// feedDistinct validates tokens from..to (by index), minted here, over
// mf.conns connections in pipelined batches, and checks each is active.
func feedDistinct(ctx context.Context, k *Keys, sock, nonce, pad string, now time.Time, from, to int, mf memoryFlags, tokenBytes *atomic.Int64) error {
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, mf.conns)
	var wg sync.WaitGroup
	for range mf.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := make([][]byte, 0, mf.batch)
			for ctx.Err() == nil {
				start := int(next.Add(int64(mf.batch))) - mf.batch
				if start >= to {
					return
				}
				lines = lines[:0]
				for i := start; i < min(start+mf.batch, to); i++ {
					t, err := k.Mint("HS256", tokenClaims{User: i % 997, Session: i,
						JTI: fmt.Sprintf("%s-%d", nonce, i), Issued: now.Add(-time.Minute),
						Expires: now.Add(2 * time.Hour), Pad: pad})
					if err != nil {
						errs <- err
						return
					}
					tokenBytes.Add(int64(len(t)))
					lines = append(lines, framingNDJSON.appendValidate(nil, t))
				}
				answers, err := ndjsonBatch(ctx, sock, lines)
				if err != nil {
					errs <- err
					return
				}
				for i, a := range answers {
					if classify(200, a) != answerActive {
						errs <- fmt.Errorf("token %d: answer %q, want active", start+i, a)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// readMemory reads pid's resident set from /proc and its Go heap from the
// daemon's /metrics, served on its socket.
func readMemory(ctx context.Context, pid int, sock string) (memSample, error) {
	var s memSample
	rss, hwm, err := readRSS(pid)
	if err != nil {
		return s, err
	}
	s.RSSMB, s.PeakRSSMB = mib(rss), mib(hwm)
	m, err := scrapeMetrics(ctx, sock, "go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes",
		"go_memstats_next_gc_bytes", "go_gc_gomemlimit_bytes")
	if err != nil {
		return s, err
	}
	s.HeapMB, s.InuseMB, s.NextGCMB = mib(m[0]), mib(m[1]), mib(m[2])
	if m[3] < 1<<62 { // math.MaxInt64 means no limit
		s.LimitMB = mib(m[3])
	}
	return s, nil
}

func mib(b float64) float64 { return float64(int(b/(1<<20)*10+0.5)) / 10 }

// readRSS reads pid's resident set and its peak (VmRSS and VmHWM), in bytes,
// from /proc/PID/status.
func readRSS(pid int) (rss, hwm float64, err error) {
	p, err := proc(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("read rss: %w", err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, 0, fmt.Errorf("read rss: %w", err)
	}
	// A kernel thread has no VmRSS line, and procfs reads a missing line as 0.
	if st.VmRSS == 0 || st.VmHWM == 0 {
		return 0, 0, fmt.Errorf("read rss: no VmRSS and VmHWM in /proc/%d/status", pid)
	}
	return float64(st.VmRSS), float64(st.VmHWM), nil
}

// scrapeMetrics fetches /metrics over the daemon's socket and returns the
// named unlabelled samples, in order; a missing one reads as -1.
func scrapeMetrics(ctx context.Context, sock string, names ...string) ([]float64, error) {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://revokd/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: status %d, %v", resp.StatusCode, err)
	}
	return parseMetrics(body, names), nil
}

// parseMetrics reads unlabelled samples from the Prometheus text format.
func parseMetrics(body []byte, names []string) []float64 {
	out := make([]float64, len(names))
	for i := range out {
		out[i] = -1
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		for i, n := range names {
			if n == name {
				if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
					out[i] = v
				}
			}
		}
	}
	return out
}

func writeMemory(w io.Writer, samples []memSample) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "cache MB\ttokens\ttoken B\tRSS MB\tpeak RSS MB\theap alloc MB\theap inuse MB\tnext GC MB\tGOMEMLIMIT MB\tsrv cpu µs/token")
	for _, s := range samples {
		limit := "off"
		if s.LimitMB > 0 {
			limit = strconv.FormatFloat(s.LimitMB, 'f', 1, 64)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%.1f\n", s.CacheMB, s.Tokens, s.TokenBytes,
			s.RSSMB, s.PeakRSSMB, s.HeapMB, s.InuseMB, s.NextGCMB, limit, s.CPUus)
	}
	return tw.Flush()
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
