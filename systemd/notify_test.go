package systemd

import (
	"errors"
	"github.com/revokd/revokd/internal/testwait"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenNotify stands in for systemd's notification socket: a unixgram
// socket named by NOTIFY_SOCKET.
func listenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

// readDatagram waits for the next datagram, until shortly before go test's
// -timeout.
func readDatagram(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(testwait.Deadline(t)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

// drain returns every datagram already queued. A deadline already past
// would fail the read before it looked at the queue, so it allows a moment:
// the datagrams were sent before drain is called, so only the final, empty
// read waits.
func drain(t *testing.T, conn *net.UnixConn) []string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	var got []string
	buf := make([]byte, 4096)
	for {
		n, _, err := conn.ReadFromUnix(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return got
		}
		if err != nil {
			t.Fatalf("read notification: %v", err)
		}
		got = append(got, string(buf[:n]))
	}
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name string
		send func() error
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"stopping", Stopping, "STOPPING=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := listenNotify(t)
			if err := tc.send(); err != nil {
				t.Fatalf("send: %v", err)
			}
			if got := readDatagram(t, conn); got != tc.want {
				t.Errorf("datagram = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReadyThenStopping: the daemon's whole life on one socket. Ready must
// leave NOTIFY_SOCKET set for the notifications after it.
func TestReadyThenStopping(t *testing.T) {
	conn := listenNotify(t)
	if err := Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if err := Stopping(); err != nil {
		t.Fatalf("Stopping: %v", err)
	}
	got := []string{readDatagram(t, conn), readDatagram(t, conn)}
	if want := []string{"READY=1", "STOPPING=1"}; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("datagrams = %q, want %q", got, want)
	}
}

// TestReloadingThenReady: a reload is RELOADING=1 with the monotonic time
// systemd 253 wants, then READY=1.
func TestReloadingThenReady(t *testing.T) {
	conn := listenNotify(t)
	if err := Reloading(); err != nil {
		t.Fatalf("Reloading: %v", err)
	}
	if err := Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(readDatagram(t, conn)), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Errorf("first datagram = %q, want RELOADING=1 and MONOTONIC_USEC=…", lines)
	} else if _, err := strconv.ParseUint(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64); err != nil {
		t.Errorf("MONOTONIC_USEC: %v", err)
	}
	if got := readDatagram(t, conn); got != "READY=1" {
		t.Errorf("second datagram = %q, want READY=1", got)
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready(); err != nil {
		t.Errorf("Ready without NOTIFY_SOCKET: %v, want nil", err)
	}
}

func TestNotifySocketMissing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	err := Ready()
	if err == nil || !strings.Contains(err.Error(), "READY=1") {
		t.Errorf("Ready to a missing socket: err = %v, want an error naming READY=1", err)
	}
}
