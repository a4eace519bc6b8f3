#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it).
# Validates the specs independently, checks formatting and lints, and runs
# every Rust test (unit, integration, doc tests, generator snapshots).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Python tools for the independent spec checks, when missing.
if ! python3 -c "import openapi_spec_validator, yaml" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "openapi-spec-validator>=0.7" "PyYAML>=6"
fi

echo "== OpenAPI validation (openapi-spec-validator) =="
for spec in specs/*.yaml; do
  python3 -m openapi_spec_validator "$spec"
done

echo "== documented fields are in the specs =="
python3 scripts/check_documented_fields.py

echo "== rustfmt =="
cargo fmt --all -- --check

echo "== clippy =="
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tools of the certificate tests (pebble, openssl, curl) =="
# tests/acme.rs runs Debian's pebble (an ACME test CA), tests/doctor.rs an
# `openssl s_server` offering only TLS 1.1, both use curl. Installed when
# missing; TRADECLOUD_REQUIRE_TOOLS=1 makes those tests fail, not skip,
# when a tool is still missing.
missing=()
for tool in pebble openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
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
for example in buyer_order_responses supplier_orders shipment_documents; do
  cargo run --quiet --locked --example "$example" >/dev/null
done

echo "== a service made by tradecloud new builds and passes its own tests =="
./scripts/scaffold-check.sh                                # supplier, all three event kinds
./scripts/scaffold-check.sh --role buyer --events documents # the smallest handler

echo "== TLS audit of tradecloud serve (testssl.sh; about a minute) =="
./scripts/tls-audit.sh

echo "== feature combinations =="
cargo build --locked --no-default-features
cargo build --locked --no-default-features --features client
cargo build --locked --no-default-features --features server

echo "== docs =="
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
