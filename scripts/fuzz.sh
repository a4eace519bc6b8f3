#!/usr/bin/env bash
# Run the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer) for a bounded time
# each, seeded with tests/fixtures.
#
#   scripts/fuzz.sh                  # every target, 60 s each
#   scripts/fuzz.sh 600              # every target, 10 minutes each
#   scripts/fuzz.sh 600 decimal      # one target
#
# Needs the nightly toolchain and cargo-fuzz (`cargo +nightly install
# cargo-fuzz`; installed here when missing). Corpora grow in
# fuzz/corpus/<target>/ (not committed), crashes land in
# fuzz/artifacts/<target>/. A crash or hang found becomes a regression
# input in tests/fuzz-regressions/<target>/ (replayed by `cargo test --test
# integration fuzz_regressions`) and gets fixed. FUZZ_JOBS=N runs N workers per target
# (default 1: the machine is shared). Each run's last statistics line is
# appended to fuzz/runs.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(webhook_json webhook_txml decimal datetime config receiver_body)
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked
fi

# Seeds from the test fixtures (and a few hand-written edge cases), written
# into each target's corpus directory; existing corpus entries are kept.
seed() {
  local target="$1" name="$2"
  mkdir -p "fuzz/corpus/$target"
  cat >"fuzz/corpus/$target/seed-$name"
}

chunked() {
  # The file $1 as a chunked body in two chunks, with an extension.
  local file="$1" size half
  size=$(wc -c <"$file")
  half=$((size / 2))
  printf '%x;ext=1\r\n' "$half"
  head -c "$half" "$file"
  printf '\r\n%x\r\n' "$((size - half))"
  tail -c "+$((half + 1))" "$file"
  printf '\r\n0\r\nX-Trailer: t\r\n\r\n'
}

for file in tests/fixtures/order-webhook/*.json tests/fixtures/shipment-webhook/*.json; do
  name=$(basename "$file" .json)
  case "$file" in *shipment*) selector='\001' route=4 ;; *) selector='\000' route=0 ;; esac
  { printf "$selector"; cat "$file"; } | seed webhook_json "$name"
  { printf "\\00$route"; printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' "$(wc -c <"$file")"; cat "$file"; } | seed receiver_body "$name-length"
  { printf "\\00$route"; printf 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'; chunked "$file"; } | seed receiver_body "$name-chunked"
done
for file in tests/fixtures/order-webhook/*.xml; do
  name=$(basename "$file" .xml)
  { printf '\000'; cat "$file"; } | seed webhook_txml "$name"
  { printf '\000'; printf 'Content-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n'; chunked "$file"; } | seed receiver_body "$name-chunked"
done
printf '\006\r\n' | seed receiver_body get-path
printf '\007\r\n' | seed receiver_body get-query
printf '\000Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}' | seed receiver_body chunk-too-large
printf '\000Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"eventName":' | seed receiver_body broken-off
printf '\000Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}' | seed receiver_body gzip
printf '\000Content-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}' | seed receiver_body text-plain

# Decimals and date-times from the fixtures, paired line by line.
grep -rhoE '"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"|: -?[0-9]+\.[0-9]+' tests/fixtures \
  | tr -d '": ' | sort -u | head -40 >/tmp/tradecloud-fuzz-decimals.$$ || true
printf '12345678901234.567890\n1.2345678901234567890e3\n-0.000\n1e-400\n0012.50\n' >>/tmp/tradecloud-fuzz-decimals.$$
paste -d'\n' /tmp/tradecloud-fuzz-decimals.$$ <(tac /tmp/tradecloud-fuzz-decimals.$$) | paste - - \
  | awk '{ print NR "\t" $0 }' | while IFS=$'\t' read -r n a b; do printf '%s\n%s' "$a" "$b" | seed decimal "$n"; done
rm -f /tmp/tradecloud-fuzz-decimals.$$
grep -rhoE '"[0-9]{4}-[0-9]{2}-[0-9]{2}[^"]*"' tests/fixtures | tr -d '"' | sort -u | head -40 \
  >/tmp/tradecloud-fuzz-dates.$$ || true
printf '2019-12-31T10:11:12\n2025-04-23T12:01:53.812+02:00\n2025-04-23T10:01:53.9Z\n2024-02-29\n' >>/tmp/tradecloud-fuzz-dates.$$
paste -d'\n' /tmp/tradecloud-fuzz-dates.$$ <(tac /tmp/tradecloud-fuzz-dates.$$) | paste - - \
  | awk '{ print NR "\t" $0 }' | while IFS=$'\t' read -r n a b; do printf '%s\n%s' "$a" "$b" | seed datetime "$n"; done
rm -f /tmp/tradecloud-fuzz-dates.$$

# Configurations: the example files, and one with variables after a NUL.
cat tradecloud.example.toml | seed config example
cat templates/new/tradecloud.toml | seed config template
printf '[server]\nlisten = "127.0.0.1:8443"\n[auth]\nmethod = "entra"\ntenant_id = "t"\naudience = "a"\n[server.acme]\ndomains = ["x.example"]\n\0SERVER_MAX_CONNECTIONS_PER_IP=7\nAUTH_ALLOWED_CLIENT_IDS=a, b\nSERVER_ACME_CONTACT=ops@example.com\n' \
  | seed config variables

# Dictionaries: the words each format is made of.
mkdir -p fuzz/dict
{
  for word in eventName orderEvent singleDeliveryOrderEvent simpleOrderEvent orderDocumentsEvent shipment \
      meta messageId orderId lines buyerLine supplierLine quantity deliverySchedule prices lastUpdatedAt; do
    printf '"\\"%s\\""\n' "$word"
  done
} >fuzz/dict/webhook.dict
{
  # libFuzzer's dictionary escapes are \xNN (no \r, \n).
  for word in 'Transfer-Encoding: chunked\x0D\x0A' 'Content-Length: ' 'Content-Type: application/json\x0D\x0A' \
      'Content-Type: application/xml\x0D\x0A' 'Expect: 100-continue\x0D\x0A' 'Content-Encoding: ' \
      '\x0D\x0A0\x0D\x0A\x0D\x0A' ';ext=' '\x0D\x0A\x0D\x0A'; do
    printf '"%s"\n' "$word"
  done
} >fuzz/dict/http.dict
{
  for word in '[server]' '[auth]' '[store]' '[tradecloud]' '[processing]' '[server.acme]' 'method = "basic"' \
      'method = "entra"' 'jwks_url' 'allowed_client_ids' 'password' 'token' 'listen' 'SERVER_' 'AUTH_' 'PROCESSING_'; do
    printf '"%s"\n' "$word"
  done
} >fuzz/dict/config.dict

dict_of() {
  case "$1" in
    webhook_json | webhook_txml) echo fuzz/dict/webhook.dict ;;
    receiver_body) echo fuzz/dict/http.dict ;;
    config) echo fuzz/dict/config.dict ;;
  esac
}

status=0
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s =="
  dict=$(dict_of "$target")
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1)
  if [ -n "$dict" ]; then args+=(-dict="$dict"); fi
  if [ "$target" = receiver_body ] || [ "$target" = webhook_json ] || [ "$target" = webhook_txml ]; then
    args+=(-max_len=131072)
  fi
  log="fuzz/last-$target.log"
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  if ! cargo +nightly fuzz run --release --jobs "${FUZZ_JOBS:-1}" "$target" "fuzz/corpus/$target" -- "${args[@]}" 2>&1 | tee "$log" \
      | grep -E '^(#[0-9]+ +(DONE|pulse)|==[0-9]+== ERROR|SUMMARY|stat::)' ; then
    :
  fi
  if grep -qE 'ERROR: libFuzzer|panicked at|^SUMMARY: ' "$log"; then
    echo "!! $target found a crash or hang: see $log and fuzz/artifacts/$target/" >&2
    status=1
  fi
  {
    printf '%s %s %ss: ' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$target" "$seconds"
    grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' "$log" | tr -s ' ' | tr '\n' ' ' || true
    grep -oE 'DONE +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | tr '\n' ' ' || true
    printf 'files=%s crashes=%s\n' "$(ls "fuzz/corpus/$target" | wc -l)" "$(ls "fuzz/artifacts/$target" | wc -l)"
  } >>fuzz/runs.log
done
exit $status
