#!/usr/bin/env bash
# Reproduces the tracking-server figures in docs/benchmarks.md: builds loopml,
# starts a server on a fresh SQLite home (and, when a PostgreSQL server is
# reachable, on a fresh PostgreSQL database), and runs `loopml bench tracking`
# against it on loopback. Takes ~5 minutes and ~3 GB of disk per store.
#
#   scripts/bench-tracking.sh [sqlite] [postgres]
#
# LOOPML_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432) names the
# PostgreSQL server; a database loopml_bench is dropped and re-created there.
set -euo pipefail
cd "$(dirname "$0")/.."
stores=("$@")
[ ${#stores[@]} -gt 0 ] || stores=(sqlite postgres)
pg=${LOOPML_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d)
bin=$work/loopml
go build -o "$bin" ./cmd/loopml
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
for store in "${stores[@]}"; do
	home=$work/home-$store
	args=(server --home "$home" --addr 127.0.0.1:5077 --log-level warn)
	case $store in
	sqlite) ;;
	postgres)
		psql "$pg/postgres" -qc 'DROP DATABASE IF EXISTS loopml_bench' -c 'CREATE DATABASE loopml_bench'
		args+=(--store "$pg/loopml_bench?sslmode=disable")
		;;
	*) echo "unknown store $store" >&2; exit 2 ;;
	esac
	"$bin" "${args[@]}" >"$work/$store.log" 2>&1 &
	server=$!
	for _ in $(seq 50); do curl -sf http://127.0.0.1:5077/health >/dev/null && break; sleep 0.1; done
	echo "## $store"
	b=("$bin" bench tracking --url http://127.0.0.1:5077 --server-pid "$server" --duration 10s)
	"${b[@]}" --scenario logbatch,logmetric,history
	if [ "$store" = postgres ]; then
		# Create the 10,000 runs, then let PostgreSQL gather statistics as
		# autovacuum would on a live server before timing the search.
		"${b[@]}" --scenario search --duration 1s >/dev/null 2>&1
		psql "$pg/loopml_bench" -qc ANALYZE
	fi
	"${b[@]}" --scenario search 2>&1 | grep -v "creating runs"
	"${b[@]}" --scenario artifacts --artifact-size 1GiB
	if [ "$store" = postgres ]; then
		lsn=$(psql "$pg/loopml_bench" -Atc 'select pg_current_wal_lsn()')
		size=$(psql "$pg/loopml_bench" -Atc "select pg_database_size('loopml_bench')")
		n0=$(psql "$pg/loopml_bench" -Atc 'select count(*) from metrics')
	fi
	"${b[@]}" --scenario logbatch --preload 10000000 2>&1 | grep -v '^preload:'
	if [ "$store" = postgres ]; then
		psql "$pg/loopml_bench" -Atc "select format('PostgreSQL: %s WAL bytes/point, %s bytes/point of table+index growth', round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn') / (count(*) - $n0)), round((pg_database_size('loopml_bench') - $size)::numeric / (count(*) - $n0))) from metrics"
	else
		echo "SQLite database: $(du -b "$home/loopml.db" | cut -f1) bytes"
	fi
	kill "$server"; wait "$server" 2>/dev/null || true; server=
done
