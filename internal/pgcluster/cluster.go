// Package pgcluster runs throwaway PostgreSQL clusters from the installed
// server binaries, for tests and for the load tool, which need a real server.
// It does not import testing, so the shipped revokd-bench binary can link it;
// the testing.TB helpers built on it live in internal/pgtest.
//
// A cluster is initdb'd into a directory, listens on a private Unix socket
// directory and on a free loopback port, and runs as the postgres user when
// the caller is root (the server refuses to run as root). It is tuned for
// speed, not durability across power loss: fsync is off.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 60 * time.Second

// Cluster is one throwaway PostgreSQL server.
type Cluster struct {
	bin     string // directory holding initdb and postgres
	dir     string // holds data/ and postgres.log
	ownsDir bool   // dir was created by StartCluster, so Close removes it
	sockDir string
	port    int
	cred    *syscall.Credential // set when running as root

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the running server process has exited
}

// StartCluster initialises a cluster in dir and starts it. An empty dir means
// a fresh temporary directory, which Close removes. When the caller is root,
// dir is handed to the postgres user, so every directory above it must be
// searchable by that user.
func StartCluster(dir string) (*Cluster, error) {
	bin, err := checkBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	if err := c.init(); err != nil {
		c.removeFiles()
		return nil, err
	}
	// A port found free can be taken before the server binds it; try a few.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			c.removeFiles()
			return nil, err
		}
		if err = c.Start(); err == nil {
			return c, nil
		}
		if attempt == 2 {
			c.removeFiles()
			return nil, err
		}
	}
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgcluster: postgres user ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// init creates the directories and runs initdb.
func (c *Cluster) init() error {
	var err error
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "revokd-pg-"); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		c.ownsDir = true
	} else if err = os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	// Unix socket paths are limited to about 100 bytes, so the socket lives
	// in a short private directory of its own rather than under dir.
	if c.sockDir, err = os.MkdirTemp("", "pgs"); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{c.dir, c.sockDir} {
		if err := c.chown(d); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(c.bin, "initdb"),
		"-D", c.DataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb in %s (as root, every directory above it must be searchable by the postgres user): %w\n%s",
			c.dir, err, out)
	}
	return nil
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return fmt.Errorf("pgcluster: hand %s to postgres: %w", path, err)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// LogPath is the file the server logs to.
func (c *Cluster) LogPath() string { return filepath.Join(c.dir, "postgres.log") }

// SocketDir is the directory holding the server's Unix socket.
func (c *Cluster) SocketDir() string { return c.sockDir }

// Port is the server's TCP port on 127.0.0.1 (also the socket's number). It
// stays the same across Stop and Start.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL for database db over the Unix socket.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable",
		url.PathEscape(db), url.QueryEscape(c.sockDir), c.port)
}

// TCPURL returns a connection URL for database db over loopback TCP.
func (c *Cluster) TCPURL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, url.PathEscape(db))
}

// Start starts the server (again, after Stop) on the same port and socket,
// and returns once it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("pgcluster: cluster already running")
	}
	logFile, err := os.OpenFile(c.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", c.DataDir(),
		"-k", c.sockDir,
		"-p", strconv.Itoa(c.port),
		"-h", "127.0.0.1",
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "max_wal_size=4GB",
		"-c", "log_min_messages=warning",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		Setpgid:    true, // a terminal's ^C goes to the tests, which stop the server themselves
	}
	// If the test binary dies without Close, the server shuts down
	// immediately rather than living on (Linux only; see deathsig_*.go).
	setDeathSignal(cmd.SysProcAttr, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := waitAccepting(c.URL("postgres"), exited); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
		return fmt.Errorf("pgcluster: postgres did not start: %w\n%s", err, c.logTail())
	}
	c.cmd, c.exited = cmd, exited
	return nil
}

// waitAccepting polls until the server accepts a connection, it exits, or
// startTimeout passes.
func waitAccepting(connURL string, exited <-chan struct{}) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, connURL)
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-exited:
			return errors.New("server exited")
		case <-deadline.C:
			return fmt.Errorf("not accepting connections after %s: %w", startTimeout, err)
		case <-tick.C:
		}
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.LogPath())
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return strings.TrimSpace(string(b))
}

// Stop shuts the server down ("fast": clients are disconnected, committed
// work is kept) and waits for it to exit. Stopping a stopped cluster is a
// no-op.
func (c *Cluster) Stop() error { return c.stop(syscall.SIGINT) }

// Kill shuts the server down "immediately", as a crash would: no checkpoint,
// and the next Start runs crash recovery. Committed work is kept.
func (c *Cluster) Kill() error { return c.stop(syscall.SIGQUIT) }

func (c *Cluster) stop(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	select {
	case <-c.exited: // died on its own
		c.cmd, c.exited = nil, nil
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("pgcluster: signal postgres: %w", err)
	}
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case <-c.exited:
	case <-timeout.C:
		// Clients that never leave stall even a fast shutdown; don't hang.
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
	}
	c.cmd, c.exited = nil, nil
	return nil
}

// Restart stops the server and starts it again on the same port.
func (c *Cluster) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.Start()
}

// Running reports whether the server process is up.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd != nil
}

// Close stops the server and removes its files.
func (c *Cluster) Close() error {
	err := c.Stop()
	c.removeFiles()
	return err
}

func (c *Cluster) removeFiles() {
	if c.sockDir != "" {
		_ = os.RemoveAll(c.sockDir)
	}
	if c.dir == "" {
		return
	}
	if c.ownsDir {
		_ = os.RemoveAll(c.dir)
		return
	}
	_ = os.RemoveAll(c.DataDir())
	_ = os.Remove(c.LogPath())
}

// CreateDatabase creates database name.
func (c *Cluster) CreateDatabase(name string) error {
	return c.admin("CREATE DATABASE " + pgx.Identifier{name}.Sanitize())
}

// DropDatabase drops database name, disconnecting anyone still using it.
func (c *Cluster) DropDatabase(name string) error {
	return c.admin("DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)")
}

func (c *Cluster) admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgcluster: %s: %w", sql, err)
	}
	return nil
}
