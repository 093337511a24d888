package client

import (
	"os"
	"path/filepath"
)

// SocketEnv is the environment variable that names the daemon's socket, for
// the daemon and its clients alike.
const SocketEnv = "REVOKD_SOCKET"

// DefaultSocket returns the socket path used when none is given:
// $REVOKD_SOCKET, else $XDG_RUNTIME_DIR/revokd/revokd.sock, else
// /run/revokd/revokd.sock.
func DefaultSocket() string {
	if p := os.Getenv(SocketEnv); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "revokd", "revokd.sock")
	}
	return "/run/revokd/revokd.sock"
}
