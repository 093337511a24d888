package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/revokd/revokd/client/apitype"
)

// pgStore is the original design's store: every request asks PostgreSQL
// for the token's cutoffs and its denial, in one query.
type pgStore struct {
	pool *pgxpool.Pool
}

// queryTimeout bounds one lookup, so a stuck database fails requests
// rather than hanging the run.
const queryTimeout = 5 * time.Second

func (s pgStore) revoked(c checked) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var (
		subBefore, sidBefore *time.Time
		denied               bool
	)
	if err := s.pool.QueryRow(ctx, pgLookup, c.sub, c.sid, c.jti).Scan(&subBefore, &sidBefore, &denied); err != nil {
		return "", fmt.Errorf("lookup: %w", err)
	}
	switch {
	case subBefore != nil && c.start.Before(*subBefore):
		return apitype.ReasonSubjectRevoked, nil
	case sidBefore != nil && c.start.Before(*sidBefore):
		return apitype.ReasonSessionRevoked, nil
	case denied:
		return apitype.ReasonRevoked, nil
	}
	return "", nil
}

func (s pgStore) revoke(c checked) error {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, pgRevoke, c.jti, c.expires.Add(baselineLeeway)); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}

// openPool connects to url with room for one connection per client
// connection, so no request waits for the pool.
func openPool(ctx context.Context, url string, conns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	cfg.MaxConns = int32(max(4, conns))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// runPGBaseline is `revokd-bench pg-baseline`.
func runPGBaseline(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("pg-baseline", flag.ContinueOnError)
	socket := fs.String("socket", "", "Unix socket to listen on (NDJSON)")
	url := fs.String("database-url", "", "PostgreSQL URL of a database with the revokd schema")
	keysDir := fs.String("keys-dir", "", "keys written by `revokd-bench keys`")
	conns := fs.Int("pool", 16, "PostgreSQL connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" || *url == "" || *keysDir == "" {
		return errors.New("pg-baseline: --socket, --database-url and --keys-dir are required")
	}
	keys, err := LoadKeys(*keysDir)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, *url, *conns)
	if err != nil {
		return err
	}
	defer pool.Close()
	ln, err := listenUnix(*socket)
	if err != nil {
		return err
	}
	h := baselineHandler(newVerifier(keys), pgStore{pool})
	log.Info("pg baseline listening", "socket", *socket)
	return serveNDJSON(ctx, ln, func() (lineHandler, func(), error) { return h, func() {}, nil }, log)
}
