#!/usr/bin/env bash
# Where a receiver spends its CPU under the load of scripts/cpu-per-event.py.
#
#   scripts/profile-receiver.sh BINARY LOAD MODE SECS perf OUT.perf
#   scripts/profile-receiver.sh BINARY LOAD MODE SECS strace
#
# BINARY: a `tradecloud` executable; LOAD: benches/load.rs's executable
# (`cargo bench --bench load --no-run`); MODE: receive-only or handled.
# Starts `serve --dev-tls` on a fresh SQLite inbox (Basic auth), puts the
# 14 KB order event under 32 connections for SECS seconds, and either
#
# * `perf`: records the server with call graphs into OUT.perf (then
#   `python3 scripts/perf-parts.py OUT.perf` gives the share of each part), or
# * `strace`: counts the server's system calls (`strace -c -f`) and prints
#   them per stored event (strace slows the server: counts, not times).
#
# Needs perf (Debian's linux-perf) or strace, and curl.
set -euo pipefail

if [ $# -lt 5 ]; then
  sed -n '2,17p' "$0" >&2
  exit 2
fi
binary=$(realpath "$1") load=$(realpath "$2") mode=$3 secs=$4 tool=$5 out=${6:-}
case "$mode" in receive-only) flags=(--receive-only) ;; handled) flags=() ;; *) echo "MODE: receive-only or handled" >&2; exit 2 ;; esac
case "$tool" in
  perf) [ -n "$out" ] || { echo "perf needs an output file" >&2; exit 2; }; out=$(realpath -m "$out") ;;
  strace) ;;
  *) echo "TOOL: perf or strace" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(head -c 18 /dev/urandom | base64 | tr '/+' 'xy')
(
  cd "$work"
  TRADECLOUD_AUTH_METHOD=basic TRADECLOUD_AUTH_USERNAME=tradecloud TRADECLOUD_AUTH_PASSWORD="$password" \
    TRADECLOUD_STORE_URL="sqlite://$work/inbox.db" TRADECLOUD_SERVER_MAX_CONCURRENT_REQUESTS=4096 \
    exec "$binary" serve --dev-tls --dev-cert-out "$work/cert.pem" --listen "127.0.0.1:$port" "${flags[@]}"
) > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 300); do
  curl -sf --cacert "$work/cert.pem" "https://localhost:$port/healthz" > /dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done

case "$tool" in
  perf) perf record -q -o "$out" -F 999 --call-graph dwarf,32768 -p "$server" -- sleep "$secs" > /dev/null 2>&1 & ;;
  strace) timeout -s INT "$secs" strace -c -f -p "$server" -o "$work/strace.txt" 2> /dev/null & ;;
esac
recorder=$!
stats=$(LOAD_URL="https://localhost:$port/tradecloud/order" LOAD_PASSWORD="$password" LOAD_CACERT="$work/cert.pem" \
  LOAD_BODY="$root/tests/fixtures/order-webhook/order-event.json" LOAD_SECS="$secs" LOAD_CONNECTIONS=32 \
  LOAD_ORDERS=100 "$load")
wait "$recorder" || true
echo "$stats"
if [ "$tool" = strace ]; then
  events=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["ok"])' "$stats")
  echo "system calls per stored event ($events events):"
  awk -v n="$events" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { printf "  %-14s %6.2f\n", $NF, $4 / n }' "$work/strace.txt" | sort -k2 -nr
fi
