package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// child is a server the tool started: the daemon, a baseline, PostgreSQL's
// helpers aside. Its output goes to a log file in the work dir, shown when
// it fails to come up.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // from Wait, set before done closes
}

func startChild(name, logDir, path string, args ...string) (*child, error) {
	return startChildEnv(name, logDir, nil, path, args...)
}

// startChildEnv is startChild with the child's environment; nil means this
// process's own.
func startChildEnv(name, logDir string, env []string, path string, args ...string) (*child, error) {
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	// If the tool dies without stopping its children, the kernel stops them
	// (Linux only; see deathsig_*.go).
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setDeathSignal(cmd.SysProcAttr, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// waitReady polls ready until it succeeds, the child exits, or the timeout.
func (c *child) waitReady(ctx context.Context, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w\n%s", c.name, timeout, err, c.logTail())
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", c.name, c.err, c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, and SIGKILL if the child has not exited 10 s later.
func (c *child) stop() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s ignored SIGTERM and was killed", c.name)
	}
	var exit *exec.ExitError
	if c.err != nil && !(errors.As(c.err, &exit) && !exit.Exited()) {
		return fmt.Errorf("%s: %w", c.name, c.err)
	}
	return nil
}

// logTail returns the end of the child's log.
func (c *child) logTail() string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 4096
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		f.Seek(fi.Size()-tail, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// socketAccepts reports whether something accepts connections on path.
func socketAccepts(path string) error {
	c, err := unixDialer(path)(context.Background())
	if err != nil {
		return err
	}
	return c.Close()
}
