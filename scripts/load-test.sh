#!/usr/bin/env bash
# Load test of the webhook receiver: durable events per second and latency
# (p50/p99) for a typical order event over TLS with Basic auth, next to a
# trivial TLS endpoint of the same server, on this machine.
#
#   scripts/load-test.sh [--duration 20s] [--connections 64] [--rate 1000] [--receive-only] [--record]
#   scripts/load-test.sh --orders N [--duration 5s] [--connections 32] [--store sqlite|postgres]
#                        [--instances 1|2] [--record]
#
# With --orders N (processing mode): events with their own message ids and
# one of N order ids (N = 1: a burst for one order) are sent for --duration
# by benches/load.rs; then the script waits until every stored event is
# `done`, as `tradecloud inbox list --json --state done` shows, and reports
# received/s (2xx per second of load) beside handled/s (stored events per
# second from the start of the load until the last one was done), with the
# load average. --store postgres runs on a throwaway PostgreSQL cluster
# (scripts/pg-throwaway.sh, fsync on) with 1 or 2 `tradecloud serve`
# instances, the connections split between them.
#
# Starts `tradecloud serve --dev-tls` (release build) on loopback with a fresh
# SQLite inbox, then runs `oha` (cargo install oha) against it:
#
#   1. trivial:    GET /healthz (TLS, HTTP/1.1 keep-alive; no auth, no store)
#   2. throughput: POST /tradecloud/order, closed loop, --connections at once
#   3. latency:    POST /tradecloud/order at a fixed --rate (events/s)
#
# The body is tests/fixtures/order-webhook/order-event.json (14 KB, 2 lines)
# without its two `messageId` members: every request is then a new event that
# is committed (fsync'd) before its 2xx, not a redelivery answered from the
# dedupe index. At the end the inbox rows are counted against the 2xx answers.
# With --record the figures are appended to BENCHMARKS.md under "Receiver".
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=20s
CONNECTIONS=64
RATE=1000
PORT=${PORT:-18443}
RECORD=0
SERVE_FLAGS=()
ORDERS=
STORE=sqlite
INSTANCES=1
DURATION_SET=0
CONNECTIONS_SET=0
while [ $# -gt 0 ]; do
    case "$1" in
        --orders) ORDERS=$2; shift 2 ;;
        --store) STORE=$2; shift 2 ;;
        --instances) INSTANCES=$2; shift 2 ;;
        --duration) DURATION=$2; DURATION_SET=1; shift 2 ;;
        --connections) CONNECTIONS=$2; CONNECTIONS_SET=1; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --receive-only) SERVE_FLAGS+=(--receive-only); shift ;;
        --record) RECORD=1; shift ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

if [ -n "$ORDERS" ]; then
    [ "$DURATION_SET" = 1 ] || DURATION=5s
    [ "$CONNECTIONS_SET" = 1 ] || CONNECTIONS=32
    exec "$(dirname "$0")/load-test-processing.sh" "$ORDERS" "$DURATION" "$CONNECTIONS" "$STORE" "$INSTANCES" "$RECORD"
fi

if ! command -v oha >/dev/null; then
    echo "oha is not installed: cargo install oha --locked" >&2
    exit 1
fi

cargo build --release --bin tradecloud
BIN="${CARGO_TARGET_DIR:-target}/release/tradecloud"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# A typical order event, without message ids (see above).
sed '/"messageId":/d' tests/fixtures/order-webhook/order-event.json >"$WORK/order.json"
if grep -q messageId "$WORK/order.json"; then
    echo "could not remove the message ids from the body" >&2
    exit 1
fi

PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export TRADECLOUD_AUTH_METHOD=basic
export TRADECLOUD_AUTH_USERNAME=tradecloud
export TRADECLOUD_AUTH_PASSWORD=$PASSWORD
export TRADECLOUD_STORE_URL="sqlite://$WORK/inbox.db"
export TRADECLOUD_SERVER_MAX_CONCURRENT_REQUESTS=4096
export RUST_LOG=${RUST_LOG:-warn}
# Run from the work directory so that no tradecloud.toml of the checkout is read.
(cd "$WORK" && exec "$OLDPWD/$BIN" serve --dev-tls --listen "127.0.0.1:$PORT" "${SERVE_FLAGS[@]}" 2>"$WORK/serve.log") &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -ksf "https://localhost:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -ksf "https://localhost:$PORT/healthz" >/dev/null || { cat "$WORK/serve.log"; exit 1; }

URL="https://localhost:$PORT/tradecloud/order"
OHA=(oha --no-tui --insecure --output-format json)
POST=(-m POST -T application/json -D "$WORK/order.json" -a "tradecloud:$PASSWORD")

echo "warming up ..." >&2
"${OHA[@]}" -z 3s -c 16 "${POST[@]}" "$URL" >/dev/null
"${OHA[@]}" -z "$DURATION" -c "$CONNECTIONS" "https://localhost:$PORT/healthz" >"$WORK/trivial.json"
echo "trivial endpoint done" >&2
"${OHA[@]}" -z "$DURATION" -c "$CONNECTIONS" "${POST[@]}" "$URL" >"$WORK/throughput.json"
echo "throughput run done" >&2
"${OHA[@]}" -z "$DURATION" -c "$CONNECTIONS" -q "$RATE" --latency-correction "${POST[@]}" "$URL" >"$WORK/rate.json"
echo "fixed-rate run done" >&2

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=

python3 - "$WORK" "$DURATION" "$CONNECTIONS" "$RATE" "$RECORD" "${SERVE_FLAGS[*]:-}" <<'PY'
import json, os, platform, sqlite3, subprocess, sys, datetime

work, duration, connections, rate, record, flags = sys.argv[1:7]

def load(name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)

def ok(d):
    return sum(int(n) for code, n in d.get("statusCodeDistribution", {}).items() if code.startswith("2"))

def codes(d):
    return ", ".join(f"{c}: {n}" for c, n in sorted(d.get("statusCodeDistribution", {}).items()))

def ms(d, p):
    v = d["latencyPercentiles"].get(p)
    return f"{v * 1000:.1f}" if v is not None else "-"

def elapsed(d):
    return d["summary"]["total"]

trivial, throughput, at_rate = load("trivial.json"), load("throughput.json"), load("rate.json")
db = sqlite3.connect(os.path.join(work, "inbox.db"))
rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
# Warm-up requests are stored too: count them as 2xx answered by the server.
answered = ok(throughput) + ok(at_rate)

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

mem = ""
try:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) // (1024 * 1024)} GiB"
except OSError:
    pass
oha = subprocess.run(["oha", "--version"], capture_output=True, text=True).stdout.strip()
machine = f"{os.cpu_count()} cores ({cpu()}), {mem}, {platform.system()} {platform.release()}"
today = datetime.date.today().isoformat()
mode = "receive-only" if "receive-only" in flags else "with processing (LogHandler)"

lines = [
    f"### {today}: {machine}",
    "",
    f"`scripts/load-test.sh` ({oha}; `tradecloud serve --dev-tls` release build, {mode}; "
    f"SQLite inbox, WAL, synchronous=FULL; client and server on the same {os.cpu_count()} cores; "
    f"{duration} per run, {connections} connections).",
    "",
    "| run | requests/s | p50 ms | p99 ms | answers |",
    "|---|---:|---:|---:|---|",
    f"| trivial TLS endpoint (`GET /healthz`) | {trivial['summary']['requestsPerSec']:.0f} | {ms(trivial, 'p50')} | {ms(trivial, 'p99')} | {codes(trivial)} |",
    f"| order event, Basic auth, durable (closed loop) | {throughput['summary']['requestsPerSec']:.0f} | {ms(throughput, 'p50')} | {ms(throughput, 'p99')} | {codes(throughput)} |",
    f"| order event at {rate}/s (latency-corrected) | {at_rate['summary']['requestsPerSec']:.0f} | {ms(at_rate, 'p50')} | {ms(at_rate, 'p99')} | {codes(at_rate)} |",
    "",
    f"Durable events/s (closed loop): **{ok(throughput) / elapsed(throughput):.0f}**. "
    f"Inbox rows after the runs: {rows} (2xx answered in the measured runs: {answered}; the rest are warm-up).",
    "",
]
text = "\n".join(lines)
print(text)
if record == "1":
    path = "BENCHMARKS.md"
    existing = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    with open(path, "a") as f:
        if "\n## Receiver\n" not in existing:
            f.write("\n## Receiver\n\nDurable webhook receiving over TLS with Basic auth, measured by `scripts/load-test.sh --record`.\n\n")
        f.write(text + "\n")
    print(f"appended to {path}")
PY
