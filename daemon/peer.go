package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
)

// ErrForbidden means the caller's peer credentials are not on the write lists.
var ErrForbidden = errors.New("forbidden")

// Peer is the identity of the process at the other end of a Unix
// connection, as the kernel recorded it at connect time (SO_PEERCRED on
// Linux, LOCAL_PEERCRED on macOS; see peerFromFD in the peer_*.go files).
type Peer struct {
	PID, UID, GID int
	Groups        []int // supplementary groups (SO_PEERGROUPS; cr_groups on macOS), when the kernel gives them
	Known         bool  // false when the connection is not a Unix socket, or the platform cannot say
}

// readPeer asks the kernel who is at the other end of c.
func readPeer(c net.Conn) (Peer, error) {
	// Only a Unix socket has peer credentials; Serve takes any listener.
	sc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var (
		p     Peer
		opErr error
	)
	err = raw.Control(func(fd uintptr) {
		p, opErr = peerFromFD(int(fd))
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	return p, nil
}

// writeAccess decides who may make the privileged writes: those that reach
// beyond one token (revoke-all, unban), an issue, which makes a session for
// any subject, and a revoke by bare jti, which needs no token and so could
// end anyone's session. Empty lists let anyone who can open the socket
// write.
type writeAccess struct {
	uids, gids []int
}

func (a writeAccess) open() bool { return len(a.uids) == 0 && len(a.gids) == 0 }

// check returns nil when p may write, else an error wrapping ErrForbidden.
func (a writeAccess) check(p Peer) error {
	if a.open() {
		return nil
	}
	if !p.Known {
		return fmt.Errorf("%w: caller's credentials are unknown", ErrForbidden)
	}
	if slices.Contains(a.uids, p.UID) || slices.Contains(a.gids, p.GID) {
		return nil
	}
	for _, g := range p.Groups {
		if slices.Contains(a.gids, g) {
			return nil
		}
	}
	return fmt.Errorf("%w: uid %d is not allowed to write", ErrForbidden, p.UID)
}

type peerKey struct{}

func withPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFrom returns the peer credentials a request arrived with.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}
