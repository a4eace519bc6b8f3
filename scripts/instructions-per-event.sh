#!/usr/bin/env bash
# User-space instructions per stored event of `tradecloud serve`, counted by
# valgrind (cachegrind without cache simulation): a figure that does not move
# with the VM's speed, steal time or the other process on the 2 cores, so a
# change of 1 % shows, where CPU seconds per event (scripts/cpu-per-event.py)
# move by 10 % or more between runs on the same binary (BENCHMARKS.md).
#
#   scripts/instructions-per-event.sh BINARY LOAD [--secs 15] [--connections 8]
#                                     [--receive-only] [--by-part N] [--keep FILE]
#
# BINARY is a release build of `tradecloud` (absolute path); LOAD is
# benches/load.rs's executable (`cargo bench --bench load --no-run`). The
# script runs BINARY twice on a fresh SQLite inbox (`serve --dev-tls`, Basic
# auth, the same environment as cpu-per-event.py): once with no requests
# (start-up and shutdown: certificate, entropy, schema), once under the load
# for --secs (the 14 KB order event of tests/fixtures, its own messageId per
# request). It prints the events stored and (instructions of the loaded run -
# instructions of the idle run) / events. Without --receive-only the loaded
# run waits until every event is `done`, so the figure includes processing.
#
# Not counted: the kernel (TLS socket reads and writes, pwrite, fsync), which
# `perf` and cpu-per-event.py see. Under valgrind the server runs about 50x
# slower, on one thread at a time; events per commit differ from a native
# run, so compare binaries with this script, not with native figures.
# `memcpy`/`memset` of large blocks (`rep movsb`) count one instruction per
# byte here, more than they cost. --by-part N also prints the instructions
# per event by part (decode, LZ4, SQLite, ...) and the N largest functions.
#
# Needs: valgrind, sqlite3, curl, python3.
set -euo pipefail

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
[ $# -ge 2 ] || usage
BIN=$1 LOAD=$2
shift 2
SECS=15 CONNECTIONS=8 FLAGS=() BY_PART="" KEEP=""
while [ $# -gt 0 ]; do
  case $1 in
    --secs|--connections|--by-part)
      [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || { echo "$1 takes a whole number" >&2; usage; } ;;&
    --secs) SECS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --receive-only) FLAGS=(--receive-only); shift ;;
    --by-part) BY_PART=$2; shift 2 ;;
    --keep) [ $# -ge 2 ] || { echo "--keep takes a file name" >&2; usage; }; KEEP=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
for tool in valgrind sqlite3 curl python3; do
  command -v "$tool" > /dev/null || { echo "$tool is needed (apt-get install $tool)" >&2; exit 1; }
done
[ -x "$BIN" ] && [ -x "$LOAD" ] || { echo "BINARY and LOAD must be executables" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BODY=$ROOT/tests/fixtures/order-webhook/order-event.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# run NAME SECS: serve under cachegrind, load it for SECS (0: none), stop it.
run() {
  local name=$1 secs=$2 dir=$WORK/$1 port password
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  password=$(head -c 18 /dev/urandom | base64 | tr '/+' 'xy')
  (
    cd "$dir"
    export TRADECLOUD_AUTH_METHOD=basic TRADECLOUD_AUTH_USERNAME=tradecloud \
      TRADECLOUD_AUTH_PASSWORD=$password TRADECLOUD_STORE_URL=sqlite://$dir/inbox.db \
      TRADECLOUD_SERVER_MAX_CONCURRENT_REQUESTS=4096 RUST_LOG=warn
    exec valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$dir/cg.out" \
      "$BIN" serve --dev-tls --dev-cert-out "$dir/cert.pem" --listen "127.0.0.1:$port" "${FLAGS[@]}"
  ) > "$dir/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    if [ -f "$dir/cert.pem" ] && curl -s --cacert "$dir/cert.pem" "https://localhost:$port/healthz" > /dev/null; then
      break
    fi
    kill -0 "$pid" 2> /dev/null || { cat "$dir/serve.log" >&2; exit 1; }
    sleep 0.2
  done
  echo 0 > "$dir/events"
  if [ "$secs" != 0 ]; then
    LOAD_URL=https://localhost:$port/tradecloud/order LOAD_PASSWORD=$password \
      LOAD_CACERT=$dir/cert.pem LOAD_BODY=$BODY LOAD_SECS=$secs \
      LOAD_CONNECTIONS=$CONNECTIONS LOAD_ORDERS=100 "$LOAD" > "$dir/load.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$dir/load.json" > "$dir/events"
    if [ ${#FLAGS[@]} -eq 0 ]; then
      for _ in $(seq 1200); do
        left=$(sqlite3 "file:$dir/inbox.db?mode=ro" "SELECT count(*) FROM events WHERE state <> 'done'" 2> /dev/null || echo x)
        [ "$left" = 0 ] && break
        sleep 0.5
      done
      [ "$left" = 0 ] || { echo "events not done after 10 minutes" >&2; exit 1; }
    fi
  fi
  kill -TERM "$pid"
  wait "$pid" || true
}

run idle 0
run loaded "$SECS"
[ -n "$KEEP" ] && cp "$WORK/loaded/cg.out" "$KEEP"

python3 - "$WORK/loaded/cg.out" "$WORK/idle/cg.out" "$(cat "$WORK/loaded/events")" "${BY_PART:-0}" <<'EOF'
import collections, re, sys

def load(path):
    counts, fl, fn = collections.Counter(), "", ""
    for line in open(path):
        if line.startswith("fl="):
            fl = line[3:].strip()
        elif line.startswith("fn="):
            fn = line[3:].strip()
        elif line[:1].isdigit():
            fields = line.split()
            if len(fields) >= 2:
                counts[(fl, fn)] += int(fields[1])
    return counts

PARTS = [
    ("LZ4", "lz4_flex"), ("SQLite", "sqlite3"),
    ("JSON decode", r"serde_json|serde_core|serde::|/types\.rs|tradecloud::types|deserialize"),
    ("memcpy", "memmove|memcpy"), ("memset", "memset"), ("mimalloc", "mimalloc"),
    ("TLS (aws-lc, rustls)", "aws-lc|aws_lc|rustls"), ("HTTP (hyper, axum, tower)", r"hyper|axum|tower|/http-"),
    ("Tokio", "tokio"), ("tradecloud", r"/work/|tradecloud::"),
]

def part(fl, fn):
    text = fl + " " + fn
    for name, pattern in PARTS:
        if re.search(pattern, text):
            return name
    return "other"

loaded, idle, events, top = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if events == 0:
    sys.exit("no event was stored: see the load's output")
by_part, by_fn = collections.Counter(), collections.Counter()
for key, n in loaded.items():
    extra = n - idle.get(key, 0)
    by_part[part(*key)] += extra
    by_fn[key[1]] += extra
total = sum(by_part.values())
print(f"events: {events}")
print(f"instructions per event: {total / events:,.0f}")
if top:
    for name, n in by_part.most_common():
        print(f"  {name:28s} {n / events:10,.0f}  {100 * n / total:5.1f} %")
    for fn, n in by_fn.most_common(top):
        print(f"  {n / events:10,.0f}  {fn[:120]}")
EOF
