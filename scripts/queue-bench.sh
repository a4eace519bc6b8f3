#!/usr/bin/env bash
# Claim cost against the size of the backlog (benches/queue.rs): SQLite, then
# PostgreSQL (a throwaway cluster, scripts/pg-throwaway.sh, fsync on) with one
# and with two processors. Prints markdown rows for BENCHMARKS.md, each with
# the load average at the end of its run.
#
#   scripts/queue-bench.sh [--sizes 1000,100000,1000000] [--sqlite-only]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=1000,100000,1000000
PG=1
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES=$2; shift 2 ;;
        --sqlite-only) PG=0; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)), $(uname -sr)"
cargo bench --quiet --bench queue --no-run >&2
QUEUE_SIZES=$SIZES cargo bench --quiet --bench queue
[ "$PG" = 1 ] || exit 0
WORK=$(mktemp -d)
trap 'scripts/pg-throwaway.sh stop "$WORK/pg"; rm -rf "$WORK"' EXIT
BASE=$(scripts/pg-throwaway.sh start "$WORK/pg" "${PG_PORT:-15433}")
PSQL="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql -q -h 127.0.0.1 -p ${PG_PORT:-15433} -U postgres -d postgres"
for instances in 1 2; do
    URLS=
    for size in ${SIZES//,/ }; do
        db="q${instances}_${size}"
        $PSQL -c "CREATE DATABASE $db" >/dev/null
        URLS="${URLS:+$URLS,}${BASE%/tradecloud}/$db"
    done
    QUEUE_SIZES=$SIZES QUEUE_PG_URLS=$URLS QUEUE_INSTANCES=$instances cargo bench --quiet --bench queue | tail -n +3
done
