package daemon

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestListenMakesDirAndSetsMode(t *testing.T) {
	path := filepath.Join(shortDir(t), "sub", "d", "s.sock")
	for _, mode := range []os.FileMode{0o660, 0o600} {
		ln, err := Listen(path, mode)
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != mode {
			t.Errorf("socket mode: got %v, want socket with %v", fi.Mode(), mode)
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("socket directory holds %d entries, want only the socket (no leftover bind dir)", len(entries))
		}
		ln.Close()
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Close: stat got %v, want the socket removed", err)
		}
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ln, err := Listen(path, 0o660); err == nil {
		ln.Close()
		t.Fatal("Listen over a regular file: got nil error")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("regular file after Listen: got %q, %v; want it untouched", b, err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	ts := startServer(t, Config{})
	ln, err := Listen(ts.path, 0o660)
	if err == nil {
		ln.Close()
		t.Fatal("second Listen on a live socket: got nil error")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("second Listen: got %v, want ErrInUse", err)
	}
	// The first daemon still answers on its path.
	nc := dialNDJSON(t, ts.path)
	if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Errorf("first daemon after the second tried: got %q", got)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	// A socket whose daemon died without cleaning up, as after SIGKILL.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket missing: %v", err)
	}
	ln, err := Listen(path, 0o660)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c := dial(t, path)
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("accept on the new socket: %v", err)
	}
}

func TestListenerCloseLeavesForeignPath(t *testing.T) {
	// If the path was replaced under a running daemon, closing it must not
	// remove the replacement.
	path := filepath.Join(shortDir(t), "s.sock")
	ln, err := Listen(path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("replacement file removed by Close: %v", err)
	}
}
