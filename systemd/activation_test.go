package systemd

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// activatedChild runs in a child test binary started the way systemd starts
// a socket-activated service: the listening socket as fd 3, LISTEN_FDS=1 and
// LISTEN_PID set to the child's own pid before exec. It takes the listener,
// answers one connection with "activated <addr>", and exits.
func activatedChild() int {
	ln, activated, err := Listener()
	if err != nil || !activated {
		fmt.Fprintf(os.Stderr, "Listener: activated=%v err=%v\n", activated, err)
		return 1
	}
	defer ln.Close()
	if os.Getenv("LISTEN_FDS") != "" || os.Getenv("LISTEN_PID") != "" {
		fmt.Fprintln(os.Stderr, "LISTEN_* left in the environment")
		return 1
	}
	conn, err := ln.Accept()
	if err != nil {
		fmt.Fprintf(os.Stderr, "accept: %v\n", err)
		return 1
	}
	defer conn.Close()
	fmt.Fprintf(conn, "activated %s\n", ln.Addr())
	return 0
}

// startActivated starts this test binary as activatedChild with ln's socket
// inherited as fd 3. A shell sets LISTEN_PID=$$ and then execs, so the pid
// it names is the child's own, exactly as systemd arranges it.
func startActivated(t *testing.T, ln *net.UnixListener, listenPID string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatalf("listener file: %v", err)
	}
	defer f.Close()
	script := `export LISTEN_PID=$$; exec "$0" -test.run='^$'`
	if listenPID != "" {
		script = `export LISTEN_PID=` + listenPID + `; exec "$0" -test.run='^$'`
	}
	cmd := exec.Command("/bin/sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return cmd, &stderr
}

func listenUnix(t *testing.T) (*net.UnixListener, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "rvsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, path
}

func TestListenerFromSystemd(t *testing.T) {
	ln, path := listenUnix(t)
	cmd, stderr := startActivated(t, ln, "")
	conn, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("read from child: %v; child said: %s", err, stderr)
	}
	if want := "activated " + path + "\n"; line != want {
		t.Errorf("child answered %q, want %q", line, want)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v; it said: %s", err, stderr)
	}
}

// LISTEN_PID naming another process means the descriptors are not ours:
// the child must not take them (it then exits 1, saying it was not
// activated).
func TestListenerIgnoresOtherPID(t *testing.T) {
	ln, _ := listenUnix(t)
	cmd, stderr := startActivated(t, ln, "1")
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child with a foreign LISTEN_PID: got %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "activated=false err=<nil>") {
		t.Errorf("child said %q, want it not activated and no error", stderr)
	}
}

func TestListenerNotActivated(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	t.Setenv("LISTEN_PID", "")
	ln, activated, err := Listener()
	if ln != nil || activated || err != nil {
		t.Errorf("Listener() without systemd = %v, %v, %v; want nil, false, nil", ln, activated, err)
	}
}
