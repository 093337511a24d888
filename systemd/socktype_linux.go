package systemd

import (
	"fmt"
	"net"
	"syscall"
)

// checkStreamListener makes sure a passed socket is a listening stream
// socket. net.FileListener also accepts a Unix datagram socket, whose
// Accept would then fail on every call; better to refuse it at start.
func checkStreamListener(ln *net.UnixListener) error {
	raw, err := ln.SyscallConn()
	if err != nil {
		return fmt.Errorf("inspect socket: %w", err)
	}
	var typ, listening int
	var optErr error
	err = raw.Control(func(fd uintptr) {
		if typ, optErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE); optErr != nil {
			return
		}
		listening, optErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	})
	if err == nil {
		err = optErr
	}
	switch {
	case err != nil:
		return fmt.Errorf("inspect socket: %w", err)
	case typ != syscall.SOCK_STREAM:
		return fmt.Errorf("%w: socket type %d, want a stream socket (ListenStream=)", ErrActivation, typ)
	case listening == 0:
		return fmt.Errorf("%w: socket is not listening", ErrActivation)
	}
	return nil
}
