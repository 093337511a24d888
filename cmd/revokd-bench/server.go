package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
)

// lineHandler answers one NDJSON request line: it appends the answer,
// without its newline, to dst.
type lineHandler func(dst, line []byte) []byte

// newHandler makes the handler of one connection, with what it holds (a
// baseline keeps its own Redis connection per client connection) and a
// function that releases it.
type newHandler func() (lineHandler, func(), error)

// listenUnix listens on path, replacing a socket file left there by an
// earlier run; it refuses to remove anything that is not a socket.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen %s: exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

// serveNDJSON answers NDJSON connections on ln until ctx is done, then
// closes every connection and returns when all their goroutines have.
func serveNDJSON(ctx context.Context, ln net.Listener, newH newHandler, log *slog.Logger) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			return nil
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			if err := handleNDJSON(c, newH); err != nil && ctx.Err() == nil {
				log.Debug("connection ended", "err", err)
			}
		})
	}
}

func handleNDJSON(c net.Conn, newH newHandler) error {
	h, release, err := newH()
	if err != nil {
		return fmt.Errorf("connection handler: %w", err)
	}
	defer release()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	var scratch, out []byte
	for {
		line, err := readLine(r, &scratch)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		out = append(h(out[:0], line), '\n')
		if _, err := w.Write(out); err != nil {
			return err
		}
		// Answers to pipelined requests that arrived together leave in one
		// write; the last one is flushed before blocking on the next read.
		if !framingNDJSON.complete(r) {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}
