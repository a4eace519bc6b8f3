#!/usr/bin/env bash
# Tradecloud in a box, the whole story with real processes (README "Tradecloud
# in a box"): the mock plays Tradecloud between a buyer and a supplier and
# delivers their webhooks over HTTPS to two services made by `tradecloud new`,
# one per role, each with its own inbox:
#
#   1. the buyer sends purchase order PO-TRIP-<n> (two lines) through the SDK
#      (`tradecloud order send`);
#   2. the supplier's service receives OrderIssuedByBuyer and answers through
#      the SDK (`decide_line`): it accepts line 0001 (10 pieces), proposes
#      line 0002 (5,000 pieces, above MAX_DELIVERY_QUANTITY) a week later, and
#      attaches its order confirmation (a PDF uploaded to object storage);
#   3. the buyer's service receives the confirmation (and downloads the
#      attached PDF stand-in from object storage) and the proposal, and
#      approves the proposal through the SDK (`decide_proposal`): the whole
#      order is Confirmed;
#   4. the supplier sends a despatch advice (`tradecloud shipment
#      send-despatch-advice`) for all of line 0001; the buyer's service
#      receives the shipment event, and the order event of its delivery line
#      now ReadyToShip.
#
# Every event must reach its service's inbox and be handled (`done`), the
# mock's delivery log must show each delivery answered 2xx, and GET order must
# show the agreed state. Exits non-zero, with the services' logs, otherwise.
#
#   scripts/round-trip.sh             # builds the tool and both services first
#   KEEP=1 scripts/round-trip.sh      # keep the working directory (logs, inboxes)
#
# The services share this workspace's target directory (CARGO_TARGET_DIR,
# default ./target), so only they and the tradecloud crate are compiled.
# Needs openssl (a throwaway CA for the services' certificates), curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
bin="$CARGO_TARGET_DIR/debug/tradecloud"
for tool in openssl curl jq python3; do
  command -v "$tool" >/dev/null || { echo "round-trip: $tool is missing; install it (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "---- $(basename "$log") (last 40 lines) ----" >&2
      tail -n 40 "$log" >&2
    done
  fi
  if [ -n "${KEEP:-}" ]; then echo "round-trip: kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
fail() { echo "round-trip: FAIL: $*" >&2; exit 1; }
step() { echo "== $* =="; }

# Wait until a command succeeds (at most $1 seconds).
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >"$work/last-check.out" 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "waited ${timeout} s for $what; the last check said: $(tail -c 2000 "$work/last-check.out")"
    sleep 0.3
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

step "build tradecloud and two services made by tradecloud new (--role buyer, --role supplier)"
cargo build --quiet --locked --bin tradecloud
for role in buyer supplier; do
  "$bin" new "$work/$role-erp" --name "round-trip-$role" --role "$role" >/dev/null
  (cd "$work/$role-erp" && cargo build --quiet)
done

step "a throwaway CA and a certificate for 127.0.0.1 (Tradecloud calls HTTPS only)"
(
  cd "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=round-trip test CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout key.pem -out csr.pem 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in csr.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext.cnf -out cert.pem 2>/dev/null
)

buyer_port=$(free_port)
supplier_port=$(free_port)
webhook_password="round-trip-webhook-secret"
webhooks_of() {
  local port=$1
  jq -n --arg base "https://127.0.0.1:$port/tradecloud" --arg pw "$webhook_password" '
    {webhookUrl: ($base + "/order"), basicAuthCredentials: {username: "tradecloud", password: $pw}} as $orders |
    {orderEvents: $orders, orderDocumentsEvents: $orders,
     shipmentEvents: {webhookUrl: ($base + "/shipment"), basicAuthCredentials: {username: "tradecloud", password: $pw}}}'
}
jq -n --argjson buyer "$(webhooks_of "$buyer_port")" --argjson supplier "$(webhooks_of "$supplier_port")" \
  '{buyer: $buyer, supplier: $supplier}' >"$work/webhooks.json"

step "the mock: both companies, their webhooks, retries after 200 ms"
"$bin" mock --listen 127.0.0.1:0 --info-file "$work/mock.json" --webhooks "$work/webhooks.json" \
  --ca-file "$work/ca.pem" --delivery-backoff 200ms >"$work/mock.log" 2>&1 &
pids+=($!)
wait_until 30 "the mock's --info-file" test -s "$work/mock.json"
base_url=$(jq -r .base_url "$work/mock.json")
export TRADECLOUD_BASE_URL="$base_url"
as() {
  local role=$1
  shift
  TRADECLOUD_USERNAME=$(jq -r ".$role.username" "$work/mock.json") \
    TRADECLOUD_PASSWORD=$(jq -r ".$role.password" "$work/mock.json") "$@"
}

start_service() {
  local role=$1 port=$2
  (
    cd "$work/$role-erp"
    export TRADECLOUD_SERVER_LISTEN="127.0.0.1:$port"
    export TRADECLOUD_SERVER_TLS_CERT="$work/cert.pem" TRADECLOUD_SERVER_TLS_KEY="$work/key.pem"
    export TRADECLOUD_AUTH_PASSWORD="$webhook_password"
    export TRADECLOUD_STORE_URL="sqlite://$work/$role-inbox.db"
    export TRADECLOUD_TRADECLOUD_BASE_URL="$base_url"
    export TRADECLOUD_PROCESSING_BACKOFF_BASE_MS=200
    export NO_COLOR=1
    exec env TRADECLOUD_USERNAME="$(jq -r ".$role.username" "$work/mock.json")" \
      TRADECLOUD_PASSWORD="$(jq -r ".$role.password" "$work/mock.json")" \
      "$CARGO_TARGET_DIR/debug/round-trip-$role"
  ) >"$work/$role.log" 2>&1 &
  pids+=($!)
  wait_until 30 "the $role service on port $port" \
    curl -sf --cacert "$work/ca.pem" "https://127.0.0.1:$port/readyz"
}
step "the buyer's and the supplier's services (HTTPS, Basic, SQLite inboxes)"
start_service buyer "$buyer_port"
start_service supplier "$supplier_port"

# Events of one kind in a service's inbox, as JSON lines.
inbox() { "$bin" inbox list --store "sqlite://$work/$1-inbox.db" --json --limit 1000; }
# `has ROLE EVENT [STATE]`: the inbox holds EVENT (in STATE, default done).
has() {
  inbox "$1" | jq -s -e --arg name "$2" --arg state "${3:-done}" \
    'any(.[]; .eventName == $name and .state == $state)' >/dev/null
}

po="PO-TRIP-$$"
step "1. the buyer sends $po through the SDK"
jq -n --arg po "$po" --arg supplier "$(jq -r .buyer.supplier_account_number "$work/mock.json")" '
  {order: {supplierAccountNumber: $supplier, purchaseOrderNumber: $po},
   lines: [
     {position: "0001", item: {number: "A-1", name: "Bolt"},
      deliverySchedule: [{position: "1", date: "2027-03-01", quantity: 10}],
      prices: {netPrice: {priceInTransactionCurrency: {value: 5, currencyIso: "EUR"}}, priceUnitQuantity: 1}},
     {position: "0002", item: {number: "B-2", name: "Nut"},
      deliverySchedule: [{position: "1", date: "2027-03-08", quantity: 5000}],
      prices: {netPrice: {priceInTransactionCurrency: {value: 0.07, currencyIso: "EUR"}}, priceUnitQuantity: 1}}]}' \
  >"$work/order.json"
as buyer "$bin" order send "$work/order.json" >/dev/null
order_id() {
  as buyer "$bin" poll orders 2>/dev/null |
    jq -er --arg po "$po" 'select(.buyerOrder.purchaseOrderNumber == $po) | .id'
}
wait_until 20 "order $po in the buyer's poll" order_id
id=$(order_id)
echo "order id $id"

step "2. the supplier's service receives it and answers (accept 0001, propose 0002, attach its confirmation)"
wait_until 60 "OrderIssuedByBuyer handled by the supplier" has supplier OrderIssuedByBuyer
step "3. the buyer's service receives the answer and approves the proposal"
wait_until 60 "OrderLinesAcceptedBySupplier handled by the buyer" has buyer OrderLinesAcceptedBySupplier
wait_until 60 "OrderChangesProposedBySupplier handled by the buyer" has buyer OrderChangesProposedBySupplier
wait_until 60 "OrderChangesProposalApprovedByBuyer handled by the supplier" \
  has supplier OrderChangesProposalApprovedByBuyer
order_state() {
  as buyer "$bin" order get "$id" |
    jq -c '{status: .status.processStatus,
            lines: [.lines[] | {position: .buyerLine.position, status: .status.processStatus,
                                dates: [.deliverySchedule[].date]}]}'
}
state=$(order_state)
echo "$state"
expected='{"status":"Confirmed","lines":[{"position":"0001","status":"Confirmed","dates":["2027-03-01"]},{"position":"0002","status":"Confirmed","dates":["2027-03-15"]}]}'
[ "$state" = "$expected" ] || fail "GET order after the approval: $state, expected $expected"

# The supplier's order confirmation came with its answer (supplierOrder.documents
# of the order event): the buyer's service downloaded it from object storage.
confirmation=$(find "$work/buyer-erp/documents" -type f -name 'order-confirmation*' 2>/dev/null | head -n 1)
[ -n "$confirmation" ] || fail "the buyer's service has no copy of the supplier's order confirmation under $work/buyer-erp/documents"
grep -q "$po" "$confirmation" || fail "the buyer's copy $confirmation does not name $po: $(cat "$confirmation")"
echo "the buyer's service saved the supplier's confirmation: $(cat "$confirmation")"
as buyer "$bin" order get "$id" | jq -e '.supplierOrder.documents | length == 1' >/dev/null ||
  fail "GET order does not show the supplier's one document"

step "4. the supplier ships line 0001; the buyer's service receives the shipment and the order ready to ship"
jq -n --arg po "$po" --arg buyer "$(jq -r .supplier.buyer_account_number "$work/mock.json")" '
  {header: {buyerAccountNumber: $buyer, despatchAdviceNumber: ("DA-" + $po),
            shipment: {shipmentNumber: ("SHIP-" + $po), transportMode: "3"}},
   lines: [{despatchAdviceLinePosition: "1", purchaseOrderNumber: $po,
            purchaseOrderLinePosition: "0001", despatchQuantity: 10}]}' >"$work/despatch-advice.json"
as supplier "$bin" shipment send-despatch-advice "$work/despatch-advice.json" >/dev/null
wait_until 60 "ShipmentIssuedBySupplier handled by the buyer" has buyer ShipmentIssuedBySupplier
wait_until 60 "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier handled by the buyer" \
  has buyer OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier
as buyer "$bin" order get "$id" | jq -e '.lines[] | select(.buyerLine.position == "0001") | .deliverySchedule[0].status == "ReadyToShip"' >/dev/null ||
  fail "GET order does not show line 0001's delivery line ReadyToShip after shipping all of it"

step "nothing failed: every event handled, every delivery answered 2xx at the first attempt"
for role in buyer supplier; do
  echo "-- $role's inbox --"
  inbox "$role" | jq -r '[.state, .eventName, (.orderId // .shipmentId)] | @tsv'
  not_done=$(inbox "$role" | jq -c 'select(.state != "done")')
  [ -z "$not_done" ] || fail "$role's inbox has events not done: $not_done"
done
deliveries=$(curl -sf "${base_url%/v2}/mock/deliveries")
echo "$deliveries" | jq -e 'type == "array" and length > 0' >/dev/null || fail "no deliveries in the mock's log: $deliveries"
failed=$(echo "$deliveries" | jq -c '.[] | select(.status == null or .status < 200 or .status > 299 or .attempt > 1)')
[ -z "$failed" ] || fail "deliveries that failed or were retried: $failed"
echo "$deliveries" | jq -r '.[] | [.company, .webhook, .eventName, .status, "\(.latencyMs | floor) ms"] | @tsv'
echo "round-trip: passed: $(echo "$deliveries" | jq length) webhook deliveries, order $po Confirmed and shipped"
