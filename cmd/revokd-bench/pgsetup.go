package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/cache/postgres/pgtest"
)

// seedRows is how many unrelated cutoffs and denials the baseline's
// database holds, so its lookups go through real indexes.
const seedRows = 10000

// startPostgres starts a throwaway cluster, creates a database with the
// revokd schema and some rows, and returns its URL, a function listing the
// server's processes (for their CPU), and how to tear it down.
func startPostgres(ctx context.Context, log *slog.Logger) (string, func() []int, func(), error) {
	cluster, err := pgtest.StartCluster("")
	if err != nil {
		return "", nil, nil, err
	}
	cleanup := func() {
		if err := cluster.Close(); err != nil {
			log.Warn("stop postgres", "err", err)
		}
	}
	const db = "revokd_bench"
	if err := cluster.CreateDatabase(db); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	url := cluster.URL(db)
	if err := setupSchema(ctx, url); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		cleanup()
		return "", nil, nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	for _, q := range pgSeed {
		if _, err := conn.Exec(ctx, q, seedRows); err != nil {
			cleanup()
			return "", nil, nil, fmt.Errorf("seed rows: %w", err)
		}
	}
	log.Info("postgres ready", "url", url, "seed_rows", seedRows)
	dataDir := cluster.DataDir()
	pids := func() []int {
		if pm := findProcess("postgres", dataDir); pm != 0 {
			return treePIDs(pm)
		}
		return nil
	}
	return url, pids, cleanup, nil
}
