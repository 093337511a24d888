#!/usr/bin/env bash
# bench.sh builds revokd and revokd-bench and runs the whole comparison of
# revokd against the bare echo servers (both framings), the
# per-request PostgreSQL lookup and, when redis-server is installed, the
# per-request Redis EXISTS, alternated round by round. `make bench` runs it.
#
# usage: scripts/bench.sh [--install-redis] [--profile] [compare flags...]
#   --install-redis  apt-get install redis-server first when it is missing
#                    (without it, the Redis baseline is skipped with a note)
#   --profile        also profile revokd in-process under NDJSON load and
#                    print the top of its CPU and allocation profiles
#   compare flags    passed on, e.g. --runs 5 --duration 5s --conns 8
#
# Output (tables, JSON report, profiles) goes to $BENCH_OUT, by default
# ${TMPDIR:-/tmp}/revokd-bench-out. All traffic stays on this machine: Unix
# sockets, and a throwaway PostgreSQL and Redis on private sockets.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${BENCH_OUT:-${TMPDIR:-/tmp}/revokd-bench-out}
install_redis=0
profile=0
args=()
for a in "$@"; do
	case "$a" in
	--install-redis) install_redis=1 ;;
	--profile) profile=1 ;;
	*) args+=("$a") ;;
	esac
done

mkdir -p "$out"
echo "== building into $out"
(cd "$root" && go build -o "$out/revokd" ./cmd/revokd && go build -o "$out/revokd-bench" ./cmd/revokd-bench)

if ! command -v redis-server >/dev/null 2>&1; then
	if [ "$install_redis" = 1 ]; then
		echo "== installing redis-server"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	else
		echo "note: redis-server is not installed: the Redis baseline will be skipped (pass --install-redis to install it)"
	fi
fi

echo "== machine"
{
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "go: $(go version | cut -d' ' -f3-)"
	echo "kernel: $(uname -r)"
	if command -v redis-server >/dev/null 2>&1; then echo "redis: $(redis-server --version | cut -d' ' -f3)"; fi
	if command -v postgres >/dev/null 2>&1; then echo "postgres: $(postgres --version | cut -d' ' -f3)"; fi
} | tee "$out/machine.txt"

echo "== compare"
"$out/revokd-bench" compare --revokd "$out/revokd" --json "$out/compare.json" ${args[@]+"${args[@]}"} | tee "$out/compare.txt"

if [ "$profile" = 1 ]; then
	echo "== profile (revokd in-process, NDJSON, HS256 seen before)"
	"$out/revokd-bench" profile --runs 1 --duration 5s \
		--cpuprofile "$out/revokd-cpu.pprof" --memprofile "$out/revokd-allocs.pprof" | tee "$out/profile.txt"
	go tool pprof -top -nodecount=30 "$out/revokd-bench" "$out/revokd-cpu.pprof" 2>/dev/null | tee -a "$out/profile.txt"
	go tool pprof -sample_index=alloc_objects -top -nodecount=10 "$out/revokd-bench" "$out/revokd-allocs.pprof" 2>/dev/null | tee -a "$out/profile.txt"
fi
echo "== done: $out/compare.txt, $out/compare.json"
