package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrInUse means another daemon is already serving on the socket path.
var ErrInUse = errors.New("another daemon is serving on this socket")

// dialTimeout bounds the liveness probe of an existing socket. A live daemon
// accepts at once (the kernel completes the connect from its backlog), so
// this only matters when the backlog is full.
const dialTimeout = time.Second

// Listen opens the Unix socket at path with the given mode.
//
// It creates the parent directory if missing, refuses to remove anything
// that is not a socket, fails with ErrInUse when a daemon answers on an
// existing socket (leaving that daemon alone) and removes the socket only when
// a dial to it is refused, i.e. it was left behind by a killed daemon.
//
// The mode is set before anyone can connect: the socket is bound inside a
// private 0700 directory next to path, chmodded there, then linked into
// place. Linking (not renaming) fails if path reappeared meanwhile, so a
// daemon that started in between is never clobbered. Closing the returned
// listener removes path, but only if it is still this listener's socket.
func Listen(path string, mode os.FileMode) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}

	// A short temp name keeps the bind path close in length to path, which
	// matters under the 108-byte limit of sun_path.
	tmpDir, err := os.MkdirTemp(dir, ".rv")
	if err != nil {
		return nil, fmt.Errorf("create private bind directory: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", path, err)
	}
	// The path removal is ours to do (see unixListener.Close): net would
	// unlink the temp name, which no longer exists after the link.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		return nil, err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(fmt.Errorf("chmod socket: %w", err))
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("listen on %s: %w", path, ErrInUse))
		}
		// Some filesystems refuse hard links; rename still puts a socket with
		// the right mode in place atomically, only without the no-clobber check.
		if rerr := os.Rename(tmp, path); rerr != nil {
			return fail(fmt.Errorf("move socket into place: %w", rerr))
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("stat socket: %w", err))
	}
	return &unixListener{UnixListener: ln, path: path, fi: fi}, nil
}

// clearStale makes path free to bind, or says why it cannot.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat socket path: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("refusing to remove %s: it is a %s, not a socket", path, fileKind(fi.Mode()))
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("listen on %s: %w", path, ErrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// Anything else (permission, timeout on a full backlog) may be a live
		// daemon: leave it.
		return fmt.Errorf("probe existing socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// unixListener removes its socket path on Close, unless the path now names
// another file (an operator removed it and something else took its place).
type unixListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
	once sync.Once
}

func (l *unixListener) Close() error {
	l.once.Do(func() {
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return l.UnixListener.Close()
}

// fileKind names a file's type in words, for errors.
func fileKind(m os.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "regular file"
	case t&os.ModeDir != 0:
		return "directory"
	case t&os.ModeSymlink != 0:
		return "symbolic link"
	case t&os.ModeNamedPipe != 0:
		return "named pipe"
	case t&os.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}
