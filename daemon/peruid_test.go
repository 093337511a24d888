package daemon

import (
	"bufio"
	"fmt"
	"github.com/revokd/revokd/internal/testwait"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// connHolderEnv makes this test binary a helper process that holds
// connections (see TestConnHolderProcess). Its value is the socket path and
// how many connections to open.
const connHolderEnv = "REVOKD_TEST_CONN_HOLDER"

// TestConnHolderProcess is no test of its own: TestConnectionCapPerUID runs
// the test binary as another uid with connHolderEnv set, and this opens
// that many connections one after another, sends a validate on each and
// prints the first line it reads back (an answer, or the refusal). It then
// holds every connection open until its standard input closes.
func TestConnHolderProcess(t *testing.T) {
	spec := os.Getenv(connHolderEnv)
	if spec == "" {
		return
	}
	path, count, _ := strings.Cut(spec, " ")
	n, err := strconv.Atoi(count)
	if err != nil {
		t.Fatalf("%s=%q: %v", connHolderEnv, spec, err)
	}
	for range n {
		c, err := net.Dial("unix", path)
		if err != nil {
			fmt.Printf("dial: %v\n", err)
			continue
		}
		defer c.Close()
		c.SetDeadline(testwait.Deadline(t))
		io.WriteString(c, `{"op":"validate","token":"good"}`+"\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			line = fmt.Sprintf("read: %q, %v\n", line, err)
		}
		fmt.Print(line)
		c.SetDeadline(time.Time{})
	}
	io.Copy(io.Discard, os.Stdin)
}

// holder is a helper process holding connections as another uid.
type holder struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	stdout io.Reader
	lines  *bufio.Scanner
}

// startHolder runs the test binary bin as uid (group nobody), opening n
// connections to path.
func startHolder(t *testing.T, bin, path string, uid, n int) *holder {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestConnHolderProcess$")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", connHolderEnv, path, n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: 65534}}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a helper process as uid %d: %v", uid, err)
	}
	h := &holder{cmd: cmd, stdin: stdin, stdout: stdout, lines: bufio.NewScanner(stdout)}
	t.Cleanup(func() { h.stop(t) })
	return h
}

// answers returns the first line each of the holder's connections read.
func (h *holder) answers(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n && h.lines.Scan() {
		got = append(got, h.lines.Text())
	}
	if len(got) < n {
		t.Fatalf("helper process ended after %d lines %q: %v", len(got), got, h.lines.Err())
	}
	return got
}

// stop lets the holder close its connections and exit, and waits for it.
func (h *holder) stop(t *testing.T) {
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	io.Copy(io.Discard, h.stdout) // the test framework's PASS; Wait must come after
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("helper process: %v", err)
	}
}

func TestConnectionCapPerUID(t *testing.T) {
	if os.Getuid() != 0 {
		const why = "TestConnectionCapPerUID needs root, to run helper processes as other uids"
		if os.Getenv("REVOKD_CI") != "" {
			t.Fatal(why + "; CI runs the tests as root")
		}
		t.Skip(why)
	}
	// Root and the daemon's own uid (root here) are exempt from the share,
	// so the test is this process (exempt) and two helpers as nobody (65534)
	// and as uid 65533, each a uid held to its share.
	const nobody, other = 65534, 65533
	ts := startServer(t, Config{MaxConns: 8, MaxConnsPerUID: 2})
	// The helpers must reach the socket and run a copy of this binary: the
	// go tool's build directory is private to root.
	dir := filepath.Dir(ts.path)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ts.path, 0o666); err != nil {
		t.Fatal(err)
	}
	bin := copyTestBinary(t, dir)

	tooMany := func(uid int) string {
		return fmt.Sprintf("revokd: too many connections from uid %d (cap 2)", uid)
	}
	// nobody holds its share; a third connection is refused and says why.
	a := startHolder(t, bin, ts.path, nobody, 3)
	if got, want := a.answers(t, 3), []string{goodAnswer, goodAnswer, tooMany(nobody)}; !slices.Equal(got, want) {
		t.Fatalf("nobody: got %q, want %q", got, want)
	}
	// Another uid still validates while nobody holds its share.
	b := startHolder(t, bin, ts.path, other, 2)
	if got, want := b.answers(t, 2), []string{goodAnswer, goodAnswer}; !slices.Equal(got, want) {
		t.Fatalf("uid %d: got %q, want %q", other, got, want)
	}
	// Root is exempt from the share, and from the cap up to a reserve: it
	// fills the cap (2 + 2 + 4 = 8) and goes past it, so a probe gets in
	// while other users hold every slot; the reserve holds it too.
	for i := range 4 + ExemptReserve {
		nc := dialNDJSON(t, ts.path)
		if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
			t.Fatalf("root's connection %d: got %q", i+1, got)
		}
	}
	c := dial(t, ts.path)
	io.WriteString(c, `{"op":"validate","token":"good"}`+"\n")
	if got, want := readToClose(t, c), "revokd: too many connections (cap 8)\n"; got != want {
		t.Errorf("root past the cap and its reserve: got %q, want %q", got, want)
	}
}

// copyTestBinary copies the running test binary into dir, executable by all.
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "daemon.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
