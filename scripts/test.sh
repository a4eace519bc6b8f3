#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it).
# Validates the specs independently, checks formatting and lints, and runs
# every Rust test (unit, integration, doc tests, generator snapshots).
set -euo pipefail
cd "$(dirname "$0")/.."

# A whole run leaves 3.5 to 4.6 GB in the target directory (its last line says
# how much): say so up front rather than let a build stop half-way with
# "No space left on device".
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
free_gb=$(df -Pk "$target_dir" | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
used_gb=$(du -sk "$target_dir" | awk '{ printf "%d", $1 / 1048576 }')
if [ $((free_gb + used_gb)) -lt 5 ]; then
  echo "warning: $free_gb GB free where $target_dir is (which holds $used_gb GB); a full run needs about 5 GB: free some space or point CARGO_TARGET_DIR elsewhere" >&2
fi

# The Python tools for the independent spec checks, when missing: the OpenAPI
# validator, PyYAML, and schemathesis (pinned: its checks and data generation
# change between releases, and the conformance run uses a fixed seed).
SCHEMATHESIS_VERSION=4.32.5
if ! python3 -c "import openapi_spec_validator, yaml" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "openapi-spec-validator>=0.7" "PyYAML>=6"
fi
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "== OpenAPI validation (openapi-spec-validator) =="
for spec in specs/*.yaml; do
  python3 -m openapi_spec_validator "$spec"
done

echo "== the specs against their sources, both ways (and the checker's own tests) =="
python3 scripts/check_specs.py
python3 -m unittest scripts/test_check_specs.py

echo "== rustfmt =="
cargo fmt --all -- --check

echo "== clippy =="
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== rustdoc: every intra-doc link resolves, private items included =="
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items -p tradecloud --all-features --locked

echo "== tools of the PostgreSQL, certificate and console tests (postgresql, pebble, openssl, curl, chromium) =="
# tests/pg_support runs Debian's PostgreSQL server (initdb into a temporary
# directory, on a free loopback port, as the postgres user, stopped again);
# cli/tests/acme.rs runs Debian's pebble (an ACME test CA), cli/tests/doctor.rs an
# `openssl s_server` offering only TLS 1.1, both use curl; cli/tests/console.rs
# drives Debian's headless chromium through chromedriver. Installed when
# missing; TRADECLOUD_REQUIRE_TOOLS=1 makes the certificate tests fail, not
# skip, when a tool is still missing (the PostgreSQL tests always fail
# without a server).
missing=()
for tool in pebble openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  missing+=(chromium chromium-driver)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} missing and there is no apt-get; install them and run again" >&2
    exit 1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export TRADECLOUD_REQUIRE_TOOLS=1

echo "== tests =="
cargo test --workspace --locked

echo "== the examples run against the mock =="
for example in buyer_order_responses supplier_orders shipment_documents supplier_order_response buyer_send_order; do
  cargo run --quiet --locked --example "$example" >/dev/null
done

echo "== our servers match our specs (schemathesis: mock with the API specs, serve with the webhook specs) =="
cargo build --quiet --locked --bin tradecloud
python3 scripts/api_conformance.py --bin "${CARGO_TARGET_DIR:-target}/debug/tradecloud" --examples 30 --seed 1

echo "== a service made by tradecloud new builds and passes its own tests =="
./scripts/scaffold-check.sh                                # supplier, all three event kinds: answers the buyer's order
./scripts/scaffold-check.sh --role buyer                   # buyer, all three event kinds: approves the supplier's proposal
./scripts/scaffold-check.sh --role buyer --events documents # the smallest handler

echo "== Tradecloud in a box: the mock, a buyer service and a supplier service trade (real processes) =="
./scripts/round-trip.sh

echo "== deploy/: the systemd unit (verify, security exposure) and the alert rules (promtool) =="
TRADECLOUD_BIN="${CARGO_TARGET_DIR:-target}/debug/tradecloud" ./scripts/check-deploy.sh

echo "== TLS audit of tradecloud serve (testssl.sh; about a minute) =="
./scripts/tls-audit.sh

echo "== feature combinations (the library alone: -p tradecloud) =="
# Type-checked, not compiled to machine code (`cargo check`, as cargo-hack
# does): a feature set that misses an item or an import fails here, and
# nothing else differs between the sets. Compiling each would cost about two
# minutes apiece on 2 cores (the library is optimised in dev builds).
# A warning in one set (an import or item only another set uses) fails too:
# clippy above sees only all features. (Read from cargo's summary line, not
# RUSTFLAGS, which would build every dependency again.)
check_features() {
  local out
  out=$(cargo check --locked -p tradecloud --no-default-features "$@" 2>&1) || {
    printf '%s\n' "$out" >&2; return 1; }
  if printf '%s\n' "$out" | grep -q '^warning: `tradecloud`'; then
    printf '%s\n' "$out" >&2
    echo "FAIL: warnings in tradecloud with --no-default-features $*" >&2
    return 1
  fi
  echo "ok: --no-default-features $*"
}
check_features
check_features --features client
check_features --features server
check_features --features doctor
# The receiver with its embedded SQLite store only (no PostgreSQL driver).
check_features --features receiver
# The library's own tests with its default features only (the SDK), not the
# binary's: each test target says which features it needs.
cargo check --locked -p tradecloud --all-targets
# The exact decimal conversions (off by default), with their doc tests.
cargo test --locked -p tradecloud --no-default-features --features rust_decimal,bigdecimal --lib types::
cargo test --locked -p tradecloud --no-default-features --features rust_decimal,bigdecimal --doc types::

echo "== the plain dependency is the SDK: no CLI, server or database =="
# What `tradecloud = "0.1"` builds (no feature options; normal and build
# dependencies, this platform), and the same with `default-features = false,
# features = ["client"]`. The binary is the package tradecloud-cli (cli/).
for features in "" "--no-default-features --features client"; do
  # shellcheck disable=SC2086 # $features is two words or none
  light_tree=$(cargo tree --locked -p tradecloud $features \
    -e normal,build --prefix none --format '{p}')
  heavy=$(printf '%s\n' "$light_tree" | grep -E '^(clap|axum|rusqlite|libsqlite3-sys|tokio-postgres|deadpool-postgres|mimalloc|libmimalloc-sys) ' || true)
  if [ -n "$heavy" ]; then
    echo "FAIL: tradecloud ${features:-with its default features} builds:" >&2
    printf '%s\n' "$heavy" | sort -u >&2
    exit 1
  fi
  echo "ok (${features:-default features}): $(printf '%s\n' "$light_tree" | sed 's/ (\*)//' | sort -u | wc -l) crates, none of clap, axum, rusqlite, tokio-postgres, mimalloc"
done

echo "== docs =="
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# What the whole run left in the target directory (a CI machine's disk is
# finite: the figure shows a growing build before it fills one).
echo "== disk used by the build: $(du -sh "$target_dir" | cut -f1) in $target_dir =="
