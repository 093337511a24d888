package daemon

import "golang.org/x/sys/unix"

// peerFromFD reads the credentials macOS recorded when the peer connected.
// macOS has no SO_PEERCRED: LOCAL_PEERCRED gives a struct xucred (uid and up
// to 16 groups, the first being the effective gid), and LOCAL_PEERPID the pid.
// A user in more than 16 groups is judged on the first 16 only, as macOS
// itself truncates the list.
func peerFromFD(fd int) (Peer, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	p := Peer{UID: int(cred.Uid), Known: true}
	n := min(max(int(cred.Ngroups), 0), len(cred.Groups))
	if n > 0 {
		p.GID = int(cred.Groups[0])
		for _, g := range cred.Groups[1:n] {
			p.Groups = append(p.Groups, int(g))
		}
	}
	// Nothing decides on the pid, so a kernel without LOCAL_PEERPID (before
	// 10.8) leaves it 0 rather than failing the whole reading.
	if pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
		p.PID = pid
	}
	return p, nil
}
