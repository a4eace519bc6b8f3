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

# Debian's PostgreSQL server for the PostgreSQL store tests (tests/pg_support
# runs initdb into a temporary directory, on a free loopback port, as the
# postgres user, and stops it again); installed when missing.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing Debian's postgresql (for the PostgreSQL store tests) =="
  SUDO=
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
fi

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
