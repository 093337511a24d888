package daemon

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// TestReadPeer reads this process's own credentials back through a real
// Unix socket, so each platform's peerFromFD (SO_PEERCRED on Linux,
// LOCAL_PEERCRED on macOS) is checked where it is built and run.
func TestReadPeer(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "peer.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()

	p, err := readPeer(server)
	if err != nil {
		t.Fatalf("readPeer: %v", err)
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		if p.Known {
			t.Errorf("on %s: got known credentials %+v, want unknown", runtime.GOOS, p)
		}
		return
	}
	if !p.Known {
		t.Fatalf("got unknown credentials, want this process's")
	}
	if p.UID != os.Geteuid() {
		t.Errorf("UID: got %d, want %d", p.UID, os.Geteuid())
	}
	if p.GID != os.Getegid() {
		t.Errorf("GID: got %d, want %d", p.GID, os.Getegid())
	}
	if p.PID != os.Getpid() {
		t.Errorf("PID: got %d, want %d", p.PID, os.Getpid())
	}
	// Both kernels report the supplementary groups (SO_PEERGROUPS,
	// xucred.cr_groups); each of ours must be there, up to macOS's 16.
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) <= 15 {
		for _, g := range groups {
			if g != p.GID && !slices.Contains(p.Groups, g) {
				t.Errorf("supplementary group %d missing from %v", g, p.Groups)
			}
		}
	}
}

// A connection that is not a Unix socket has no credentials to read: the
// peer is unknown, which is not an error.
func TestReadPeerNotUnix(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	p, err := readPeer(a)
	if err != nil || p.Known {
		t.Errorf("got %+v, %v; want an unknown peer and no error", p, err)
	}
}
