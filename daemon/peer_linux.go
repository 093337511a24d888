package daemon

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// peerFromFD reads the credentials Linux recorded when the peer connected
// (SO_PEERCRED): pid, uid and primary gid, plus the supplementary groups.
func peerFromFD(fd int) (Peer, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	p := Peer{PID: int(cred.Pid), UID: int(cred.Uid), GID: int(cred.Gid), Known: true}
	// SO_PEERGROUPS returns the gids as native-endian 32-bit words; older kernels
	// lack it, and then only the primary gid counts.
	if s, err := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_PEERGROUPS); err == nil {
		for i := 0; i+4 <= len(s); i += 4 {
			p.Groups = append(p.Groups, int(binary.NativeEndian.Uint32([]byte(s[i:i+4]))))
		}
	}
	return p, nil
}
