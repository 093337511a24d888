//go:build !linux && !darwin

package daemon

// peerFromFD reports no credentials on platforms where revokd does not know
// how to ask the kernel, so they still build for development. The peer stays
// unknown: it counts only against the global connection cap, not a per-uid
// share, and a daemon with --write-uids or --write-gids refuses it every
// privileged write, failing closed.
func peerFromFD(int) (Peer, error) { return Peer{}, nil }
