#!/usr/bin/env bash
# Processing mode of scripts/load-test.sh (see there): received/s beside
# handled/s, events spread over ORDERS order ids.
#
#   scripts/load-test-processing.sh ORDERS DURATION CONNECTIONS sqlite|postgres INSTANCES RECORD(0|1)
#
# LOAD_TEST_BIN=path runs another `tradecloud` binary (an older release, for
# before/after figures) with the same load generator; LOAD_TEST_LABEL names
# it in the recorded row.
#
# It also prints the CPU time the tradecloud processes used from the start
# of the load until every event was done, per event (the load generator's
# and the database's not counted). Variables such as
# OTEL_EXPORTER_OTLP_ENDPOINT reach the instances (BENCHMARKS.md, "Traces").
#
# LOAD_TEST_DRAIN=1 measures a backlog instead: the instances receive with
# processing off (--receive-only), are stopped after the load and started
# again with processing on; handled/s is then the stored events per second
# from that restart until the last one is done (the burst after an outage,
# handled by itself rather than paced by the receiving).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=$1 DURATION=$2 CONNECTIONS=$3 STORE=$4 INSTANCES=$5 RECORD=$6
SECS=${DURATION%s}
PORT=${PORT:-18443}
PG_PORT=${PG_PORT:-15432}

# One build (the bench profile) gives both the server and the load generator.
ARTIFACTS=$(cargo bench --bench load --no-run --message-format=json 2>/dev/null)
artifact() {
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1" <<<"$ARTIFACTS" | tail -1
}
BIN=${LOAD_TEST_BIN:-$(artifact tradecloud)}
LOAD=$(artifact load)
[ -x "$BIN" ] || { echo "could not build the tradecloud binary" >&2; exit 1; }
[ -x "$LOAD" ] || { echo "could not build benches/load.rs" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$STORE" = postgres ]; then scripts/pg-throwaway.sh stop "$WORK/pg"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

case "$STORE" in
    sqlite) STORE_URL="sqlite://$WORK/inbox.db" ;;
    postgres) STORE_URL=$(scripts/pg-throwaway.sh start "$WORK/pg" "$PG_PORT") ;;
    *) echo "--store sqlite or postgres" >&2; exit 2 ;;
esac
[ "$STORE" = postgres ] || [ "$INSTANCES" = 1 ] || { echo "two instances need --store postgres" >&2; exit 2; }

PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export TRADECLOUD_AUTH_METHOD=basic TRADECLOUD_AUTH_USERNAME=tradecloud TRADECLOUD_AUTH_PASSWORD=$PASSWORD
export TRADECLOUD_STORE_URL=$STORE_URL TRADECLOUD_SERVER_MAX_CONCURRENT_REQUESTS=4096
export RUST_LOG=${RUST_LOG:-warn}
DRAIN=${LOAD_TEST_DRAIN:-0}
start_instances() { # extra serve flags
    PIDS=()
    for i in $(seq 0 $((INSTANCES - 1))); do
        (cd "$WORK" && exec "$BIN" serve --dev-tls --dev-cert-out "$WORK/cert-$i.pem" \
            --listen "127.0.0.1:$((PORT + i))" "$@" 2>>"$WORK/serve-$i.log") &
        PIDS+=($!)
        for _ in $(seq 1 300); do
            curl -ksf "https://localhost:$((PORT + i))/healthz" >/dev/null 2>&1 && break
            sleep 0.1
        done
        curl -ksf "https://localhost:$((PORT + i))/healthz" >/dev/null || { cat "$WORK/serve-$i.log"; exit 1; }
    done
}
if [ "$DRAIN" = 1 ]; then start_instances --receive-only; else start_instances; fi

count() { "$BIN" inbox list --json --limit 100000000 "$@" | wc -l; }
# CPU time (user + system, clock ticks) of the running instances so far.
cpu_ticks() {
    local total=0 pid fields
    for pid in "${PIDS[@]}"; do
        read -r -a fields <"/proc/$pid/stat"
        total=$((total + fields[13] + fields[14]))
    done
    echo "$total"
}
CPU_BEFORE=$(cpu_ticks)

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s.%N)
HANDLE_START=$START
for i in $(seq 0 $((INSTANCES - 1))); do
    LOAD_URL="https://localhost:$((PORT + i))/tradecloud/order" LOAD_PASSWORD=$PASSWORD \
    LOAD_CACERT="$WORK/cert-$i.pem" LOAD_BODY=tests/fixtures/order-webhook/order-event.json \
    LOAD_SECS=$SECS LOAD_CONNECTIONS=$((CONNECTIONS / INSTANCES)) LOAD_ORDERS=$ORDERS \
        "$LOAD" >"$WORK/load-$i.json" &
    GEN[$i]=$!
done
for i in $(seq 0 $((INSTANCES - 1))); do wait "${GEN[$i]}"; done
LOAD_END=$(date +%s.%N)
DONE_AT_END=$(count --state done)
if [ "$DRAIN" = 1 ]; then
    for pid in "${PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; done
    echo "received $(count) events with processing off; handling them now ..." >&2
    HANDLE_START=$(date +%s.%N)
    start_instances
fi
echo "load done ($DONE_AT_END done by then); waiting until every stored event is done ..." >&2
while :; do
    TOTAL=$(count)
    DONE=$(count --state done)
    NOW=$(date +%s.%N)
    [ "$TOTAL" -gt 0 ] && [ "$DONE" = "$TOTAL" ] && break
    if python3 -c "import sys; sys.exit(0 if $NOW - $START > 900 else 1)"; then
        echo "not all done after 15 minutes: $DONE of $TOTAL" >&2; exit 1
    fi
    sleep 0.5
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$DRAIN" = 1 ]; then
    echo "cpu: not measured with LOAD_TEST_DRAIN=1 (the instances were restarted)"
else
    python3 -c 'import sys; t = (int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]); n = int(sys.argv[4])
print(f"cpu: {t:.2f} s (user + system) in the tradecloud process(es) for {n} events: {1e6 * t / n:,.0f} µs per event received and handled")' \
        "$CPU_BEFORE" "$(cpu_ticks)" "$(getconf CLK_TCK)" "$TOTAL"
fi

python3 - "$WORK" "$INSTANCES" "$START" "$LOAD_END" "$NOW" "$TOTAL" "$ORDERS" "$STORE" "$RECORD" \
    "$LOAD_BEFORE" "$LOAD_AFTER" "$CONNECTIONS" "$DONE_AT_END" "${LOAD_TEST_LABEL:-}" "$HANDLE_START" <<'PY'
import datetime, json, os, platform, sys
work, instances, start, load_end, done_at, total, orders, store, record, lb, la, conns, done_at_end, label, handle_start = sys.argv[1:16]
runs = [json.load(open(os.path.join(work, f"load-{i}.json"))) for i in range(int(instances))]
ok = sum(r["ok"] for r in runs)
load_secs = float(load_end) - float(start)
done_secs = float(done_at) - float(handle_start)
received = ok / load_secs
handled = int(total) / done_secs
during = int(done_at_end) / load_secs
statuses = {}
for r in runs:
    for k, v in r["statuses"].items():
        statuses[k] = statuses.get(k, 0) + v
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
machine = f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
if label:
    when += f" ({label})"
if os.environ.get("LOAD_TEST_DRAIN") == "1":
    when += " (backlog: received with processing off, handled/s from the restart)"
spread = "one order" if orders == "1" else f"{orders} orders"
HEADER = ("| when | store | events for | connections | 2xx during the load | received/s | done when the load ended | all done | handled/s | handled/received | load avg (1/5/15 min) before → after |\n"
          "|---|---|---|---:|---|---:|---|---|---:|---:|---|")
line = (f"| {when} | {store}, {instances} instance{'s' if instances != '1' else ''} | {spread} | {conns} | "
        f"{ok} in {load_secs:.1f} s | **{received:,.0f}** | {done_at_end} ({during:,.0f}/s) | {total} done after {done_secs:.1f} s | **{handled:,.0f}** | "
        f"{100 * handled / received:.0f} % | {lb} → {la} |")
print(f"machine: {machine}")
print(f"statuses: {statuses}")
print(HEADER)
print(line)
if record == "1":
    path = "BENCHMARKS.md"
    text = open(path).read()
    marker = "<!-- processing-runs -->"
    if marker not in text:
        text += ("\n## Processing\n\n`scripts/load-test.sh --orders N` (see there), " + machine + ".\n\n"
                 + HEADER + "\n" + marker + "\n")
    text = text.replace(marker, line + "\n" + marker)
    open(path, "w").write(text)
    print(f"recorded in {path}")
PY
