// Command revokd-bench is revokd's load generator. It drives a daemon over
// its Unix socket in either framing with a chosen token mix and reports
// throughput, latency percentiles from an HDR histogram and CPU per
// request; its compare mode also starts the baselines revokd must beat (bare
// echo servers, a per-request PostgreSQL lookup, a per-request Redis
// EXISTS) and runs them alternately with the daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "revokd-bench:", err)
		os.Exit(1)
	}
	if err != nil {
		os.Exit(2)
	}
}

var errUsage = errors.New("usage")

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

const usage = `usage: revokd-bench COMMAND [flags]

commands:
  run             load one server (a running revokd, or any of the servers below)
  compare         start revokd, the echo servers and the PostgreSQL and Redis
                  baselines, run them alternately and judge the ratio targets
  profile         build revokd in this process (same packages and wiring as
                  serve with --data-dir) and write CPU and allocation profiles
                  of it under load: revokd serve exposes no pprof endpoint
  memory          start revokd per --token-cache-mb setting, validate N distinct
                  tokens through it, and report its RSS and Go heap
  keys            mint keys into a directory and print the revokd serve flags
  echo            bare echo server (transport ceiling) for --framing ndjson|http
  pg-baseline     per-request verification + PostgreSQL lookup (NDJSON)
  redis-baseline  per-request verification + Redis EXISTS (NDJSON)

Run 'revokd-bench COMMAND -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runLoadCmd(ctx, rest, stdout, log)
	case "compare":
		return runCompare(ctx, rest, stdout, log)
	case "profile":
		return runProfile(ctx, rest, stdout, log)
	case "memory":
		return runMemory(ctx, rest, stdout, log)
	case "keys":
		return runKeys(rest, stdout)
	case "echo":
		return runEcho(ctx, rest, log)
	case "pg-baseline":
		return runPGBaseline(ctx, rest, log)
	case "redis-baseline":
		return runRedisBaseline(ctx, rest, log)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", cmd, usage)
	return errUsage
}
