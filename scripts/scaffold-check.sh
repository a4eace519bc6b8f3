#!/usr/bin/env bash
# Create a receiver service with `tradecloud new` in a temporary directory
# and check what a user gets: it builds, passes its own tests (the mock of
# Tradecloud and the receiver in-process, sample events over HTTPS), clippy
# with -D warnings, and rustfmt.
#
#   scripts/scaffold-check.sh                       # supplier, orders + documents + shipments
#   scripts/scaffold-check.sh --role buyer          # buyer, orders + documents + shipments
#   scripts/scaffold-check.sh --role buyer --events orders --delivery single
#
# The build shares this workspace's target directory (CARGO_TARGET_DIR, default
# ./target): the generated project depends on this checkout by path and uses
# the same dev profile and Cargo.lock, so the dependencies already compiled for
# the workspace are reused; only tradecloud itself (other features) and the
# new crate are compiled.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"

if [ "$#" -eq 0 ]; then
  set -- --role supplier --events orders,documents,shipments
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
project="$work/scaffold-check"

step() {
  local name=$1
  shift
  local t0=$SECONDS
  "$@"
  echo "scaffold-check: $name took $((SECONDS - t0)) s"
}

start=$SECONDS
echo "== tradecloud new $* =="
step "tradecloud new" cargo run --quiet --locked -- new "$project" --name scaffold-check "$@"
cd "$project"
step "cargo test" cargo test
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "cargo fmt --check" cargo fmt --check
echo "scaffold-check: passed ($*) in $((SECONDS - start)) s"
