package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// redisStore is the Redis baseline's store: a denylist of token ids, one
// EXISTS per request.
type redisStore struct{ rc *redisConn }

func denyKey(jti string) string { return "revokd:deny:" + jti }

func (s redisStore) revoked(c checked) (string, error) {
	found, err := s.rc.Exists(denyKey(c.jti))
	if err != nil || !found {
		return "", err
	}
	return apitype.ReasonRevoked, nil
}

func (s redisStore) revoke(c checked) error {
	return s.rc.SetPX(denyKey(c.jti), "1", time.Until(c.expires)+baselineLeeway)
}

// redisHandlers gives every client connection its own Redis connection, so
// requests never wait for a pool.
func redisHandlers(v *verifier, addr string) newHandler {
	return func() (lineHandler, func(), error) {
		rc, err := dialRedis(addr)
		if err != nil {
			return nil, nil, err
		}
		return baselineHandler(v, redisStore{rc}), func() { rc.Close() }, nil
	}
}

// runRedisBaseline is `revokd-bench redis-baseline`.
func runRedisBaseline(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("redis-baseline", flag.ContinueOnError)
	socket := fs.String("socket", "", "Unix socket to listen on (NDJSON)")
	addr := fs.String("redis", "", "Redis address: a Unix socket path, or host:port")
	keysDir := fs.String("keys-dir", "", "keys written by `revokd-bench keys`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" || *addr == "" || *keysDir == "" {
		return errors.New("redis-baseline: --socket, --redis and --keys-dir are required")
	}
	keys, err := LoadKeys(*keysDir)
	if err != nil {
		return err
	}
	rc, err := dialRedis(*addr) // fail now rather than on the first request
	if err != nil {
		return err
	}
	rc.Close()
	ln, err := listenUnix(*socket)
	if err != nil {
		return err
	}
	log.Info("redis baseline listening", "socket", *socket, "redis", *addr)
	return serveNDJSON(ctx, ln, redisHandlers(newVerifier(keys), *addr), log)
}

// redisServerArgs runs redis-server in the foreground on a Unix socket only,
// with no persistence: nothing leaves the machine, nothing is left behind.
func redisServerArgs(dir string) (args []string, socket string) {
	socket = filepath.Join(dir, "redis.sock")
	return []string{
		"--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir,
	}, socket
}

// findRedis returns redis-server's path, or an error saying how to get it.
func findRedis() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server is not on PATH (apt-get install -y redis-server, or scripts/bench.sh --install-redis)")
	}
	return path, nil
}

// redisReady reports whether the Redis at socket answers.
func redisReady(socket string) error {
	if _, err := os.Stat(socket); err != nil {
		return err
	}
	rc, err := dialRedis(socket)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = rc.Exists("revokd:ping")
	return err
}
