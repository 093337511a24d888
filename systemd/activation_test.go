package systemd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/revokd/revokd/internal/testwait"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childReport is what the socket-activated child prints on its first line.
type childReport struct {
	OK            bool   `json:"ok"`
	Err           string `json:"err"`
	ErrActivation bool   `json:"err_activation"`
	EnvLeft       string `json:"env_left"` // LISTEN_* still set after Listener
}

const greeting = "hello from the activated child"

// activatedChild runs in the child process (TestMain calls it when childEnv
// is set): it takes systemd's socket as revokd would, reports, and serves
// one connection on it.
func activatedChild() int {
	ln, ok, err := Listener()
	rep := childReport{OK: ok, ErrActivation: errors.Is(err, ErrActivation)}
	if err != nil {
		rep.Err = err.Error()
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, set := os.LookupEnv(k); set {
			rep.EnvLeft += k + "=" + v + " "
		}
	}
	line, _ := json.Marshal(rep)
	fmt.Println(string(line))
	if !ok {
		return 0
	}
	defer ln.Close()
	conn, err := ln.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, "accept:", err)
		return 1
	}
	defer conn.Close()
	if _, err := fmt.Fprintln(conn, greeting); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	return 0
}

// TestListener runs this test binary as a child with descriptors passed the
// way systemd passes them: from fd 3 on, with LISTEN_FDS and LISTEN_PID.
//
// LISTEN_PID must equal the pid of the process that reads it, which the
// parent cannot know before starting it. So the child is started through
// /bin/sh, which exports LISTEN_PID=$$ (its own pid) and then execs the test
// binary: exec keeps the pid and the inherited descriptors, so the binary
// sees exactly what systemd would give it, and the pid check in
// go-systemd's activation is exercised for real rather than bypassed.
func TestListener(t *testing.T) {
	tests := []struct {
		name      string
		files     func(t *testing.T) (fds []*os.File, dial string) // dial: socket the parent connects to
		listenPID string                                           // "self": the child's own pid
		wantOK    bool
		wantErr   bool
	}{
		{name: "activated", files: unixListenerFile, listenPID: "self", wantOK: true},
		{name: "LISTEN_PID names another process", files: unixListenerFile, listenPID: strconv.Itoa(os.Getpid())},
		{name: "no LISTEN_PID", files: unixListenerFile, listenPID: ""},
		{name: "no descriptors", files: func(*testing.T) ([]*os.File, string) { return nil, "" }, listenPID: "self"},
		{name: "descriptor is a regular file", files: regularFile, listenPID: "self", wantErr: true},
		{name: "descriptor is a datagram socket", files: datagramFile, listenPID: "self", wantErr: true},
		{name: "descriptor is a connected stream socket", files: connectedStreamFile, listenPID: "self", wantErr: true},
		{name: "descriptor is a TCP listener", files: tcpListenerFile, listenPID: "self", wantErr: true},
		{name: "two sockets", files: func(t *testing.T) ([]*os.File, string) {
			a, _ := unixListenerFile(t)
			b, _ := unixListenerFile(t)
			return append(a, b...), ""
		}, listenPID: "self", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, dial := tc.files(t)
			rep, greet := runChild(t, files, tc.listenPID, tc.wantOK, dial)
			t.Logf("child: %+v", rep)
			if rep.OK != tc.wantOK {
				t.Errorf("ok = %v, want %v", rep.OK, tc.wantOK)
			}
			if (rep.Err != "") != tc.wantErr || (tc.wantErr && !rep.ErrActivation) {
				t.Errorf("err = %q (ErrActivation %v), want error %v wrapping ErrActivation", rep.Err, rep.ErrActivation, tc.wantErr)
			}
			if rep.EnvLeft != "" {
				t.Errorf("LISTEN_* left set after Listener: %s", rep.EnvLeft)
			}
			if tc.wantOK && greet != greeting {
				t.Errorf("child answered %q on the passed socket, want %q", greet, greeting)
			}
		})
	}
}

// runChild starts the child with files as fds 3, 4, …, reads its report
// and, when it should have a socket, connects to dial and reads its answer.
func runChild(t *testing.T, files []*os.File, listenPID string, connect bool, dial string) (childReport, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // guards against a hang only
	defer cancel()
	script := `exec "$0" "$@"`
	if listenPID == "self" {
		script = `LISTEN_PID=$$; export LISTEN_PID; ` + script
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script, os.Args[0], "-test.run=^$")
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	// GORACE: a race-enabled child would otherwise wait a second at exit.
	cmd.Env = []string{childEnv + "=1", "PATH=" + os.Getenv("PATH"), "GORACE=atexit_sleep_ms=0"}
	if len(files) > 0 {
		cmd.Env = append(cmd.Env, "LISTEN_FDS="+strconv.Itoa(len(files)))
	}
	if listenPID != "self" && listenPID != "" {
		cmd.Env = append(cmd.Env, "LISTEN_PID="+listenPID)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	for _, f := range files {
		_ = f.Close() // the child has its copies
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Wait()
		t.Fatalf("read child report: %v", err)
	}
	var rep childReport
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Fatalf("child report %q: %v", line, err)
	}
	var greet string
	if connect && rep.OK {
		greet = dialAndRead(t, dial)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	return rep, greet
}

func dialAndRead(t *testing.T, path string) string {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(testwait.Deadline(t)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	s, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read from child: %v", err)
	}
	return strings.TrimSuffix(s, "\n")
}

// unixListenerFile listens on a Unix socket, as systemd does for
// revokd.socket, and returns a duplicate of its descriptor to pass on. The
// parent keeps its listener open (and never accepts) until the test ends.
func unixListenerFile(t *testing.T) ([]*os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "revokd.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	f, err := ln.File()
	if err != nil {
		t.Fatalf("listener file: %v", err)
	}
	return []*os.File{f}, path
}

func regularFile(t *testing.T) ([]*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "not-a-socket"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return []*os.File{f}, ""
}

func datagramFile(t *testing.T) ([]*os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dgram.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		t.Fatalf("datagram file: %v", err)
	}
	return []*os.File{f}, ""
}

func tcpListenerFile(t *testing.T) ([]*os.File, string) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen tcp: %v", err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatalf("tcp listener file: %v", err)
	}
	return []*os.File{f}, ""
}

func connectedStreamFile(t *testing.T) ([]*os.File, string) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	_ = syscall.Close(fds[1])
	return []*os.File{os.NewFile(uintptr(fds[0]), "stream")}, ""
}
