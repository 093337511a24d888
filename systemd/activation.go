// Package systemd is revokd's glue to systemd: the socket-activated listener
// (revokd.socket), readiness and stop notifications for Type=notify, and the
// watchdog. Each is a no-op when the process does not run under systemd, so
// the daemon calls them unconditionally. The unit files live beside this
// package: revokd.service, revokd.socket and revokd.sysusers.
package systemd

import (
	"errors"
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
)

// ErrActivation means systemd passed sockets revokd cannot use: more than
// one, or one that is not a listening Unix stream socket.
var ErrActivation = errors.New("unusable socket from systemd")

// Listener returns the listening socket systemd passed to this process
// (LISTEN_FDS, with LISTEN_PID equal to our pid), and true. It returns
// false, and no error, when the process was not socket-activated; the
// daemon then creates its own socket.
//
// The LISTEN_* variables are unset either way, so a child process never
// mistakes the descriptors for its own. The socket file belongs to systemd:
// closing the listener does not remove it, and the daemon must neither
// remove it nor change its mode (SocketMode= in revokd.socket decides).
func Listener() (net.Listener, bool, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return nil, false, fmt.Errorf("socket activation: %w", err)
	}
	switch {
	case len(lns) == 0:
		return nil, false, nil
	case len(lns) > 1:
		closeAll(lns)
		return nil, false, fmt.Errorf("socket activation: %w: %d sockets passed, want one", ErrActivation, len(lns))
	case lns[0] == nil:
		return nil, false, fmt.Errorf("socket activation: %w: descriptor 3 is not a listening stream socket", ErrActivation)
	}
	// Peer credentials (SO_PEERCRED) only exist on Unix sockets, and the
	// daemon's write authorization depends on them.
	ln, ok := lns[0].(*net.UnixListener)
	if !ok {
		closeAll(lns)
		return nil, false, fmt.Errorf("socket activation: %w: got a %s socket, want a Unix stream socket", ErrActivation, lns[0].Addr().Network())
	}
	if err := checkStreamListener(ln); err != nil {
		_ = ln.Close()
		return nil, false, fmt.Errorf("socket activation: %w", err)
	}
	return ln, true, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
}
