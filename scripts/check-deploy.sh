#!/usr/bin/env bash
# Checks what deploy/ ships (part of ./scripts/test.sh):
#
# * deploy/systemd/tradecloud.service: `systemd-analyze verify` without a
#   warning, and `systemd-analyze security --offline=true` at "OK" or better
#   (exposure below 5.0) and equal to the level README.md records, so that a
#   change of the hardening is a deliberate one;
# * deploy/prometheus/tradecloud-alerts.yml: `promtool check rules`, its
#   unit tests with `promtool test rules`, and that every reason of
#   tradecloud_webhook_rejected_total the receiver counts has a rule.
#
# Debian's systemd and prometheus packages are installed when
# systemd-analyze or promtool are missing. `systemd-analyze verify` needs
# the ExecStart binary to exist: the unit is checked with ExecStart pointing
# at the built tradecloud ($TRADECLOUD_BIN, else target/debug/tradecloud),
# or at /usr/bin/true when it is not built (the unit's syntax, directives
# and sandbox are what is checked, not the binary).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
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

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

unit=deploy/systemd/tradecloud.service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin="${TRADECLOUD_BIN:-${CARGO_TARGET_DIR:-target}/debug/tradecloud}"
if [ -x "$bin" ]; then
  bin=$(realpath "$bin")
else
  bin=$(command -v true)
fi
grep -q '^ExecStart=/usr/local/bin/tradecloud ' "$unit" || fail "$unit: ExecStart is not /usr/local/bin/tradecloud"
sed "s|^ExecStart=/usr/local/bin/tradecloud |ExecStart=$bin |" "$unit" >"$tmp/tradecloud.service"

echo "== systemd-analyze verify $unit =="
if ! out=$(systemd-analyze verify "$tmp/tradecloud.service" 2>&1); then
  printf '%s\n' "$out" >&2
  fail "systemd-analyze verify $unit"
fi
if [ -n "$out" ]; then
  printf '%s\n' "$out" >&2
  fail "systemd-analyze verify warns about $unit"
fi

echo "== systemd-analyze security --offline=true $unit =="
# --threshold=49: an exposure above 4.9 (MEDIUM or worse) fails.
if ! security=$(systemd-analyze security --offline=true --threshold=49 "$tmp/tradecloud.service" 2>&1); then
  printf '%s\n' "$security" | grep '✗' >&2 || true
  printf '%s\n' "$security" | tail -1 >&2
  fail "$unit: the exposure level is worse than OK"
fi
level=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for tradecloud.service: \([0-9.]* [A-Z]*\).*/\1/p')
[ -n "$level" ] || fail "no exposure level in the output of systemd-analyze security"
echo "exposure level $level"
grep -q "exposure level $level\b" README.md ||
  fail "README.md does not record the exposure level $level of $unit (\"exposure level $level\"): the hardening changed; record the new level if that was meant"

echo "== every rejection reason the receiver counts has an alert =="
# The reasons of tradecloud_webhook_rejected_total, as the receiver's source
# names them: `rejected("…")`/`reject("…")` calls, the arms of `reason_of`
# and the store failures of `store_failed` (src/receiver). Each must be
# matched by a `reason` selector of a rule, or named on the rules file's
# `# not-alerted-reasons:` line: a new reason nobody alerts on would let
# events that Tradecloud does not retry (4xx) or stops retrying (503) go
# unnoticed.
rules=deploy/prometheus/tradecloud-alerts.yml
reasons=$( {
  grep -ohE '\b(rejected|reject)\("[a-z_]+"\)' src/receiver/*.rs
  sed -n '/^fn reason_of/,/^}/p' src/receiver/routes.rs | grep -oE '=> "[a-z_]+"'
  sed -n '/fn store_failed/,/^    }/p' src/receiver/routes.rs | grep -oE '"store_[a-z_]+"'
} | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
[ -n "$reasons" ] || fail "found no rejection reasons in src/receiver: update this check"
alerted=$( {
  grep -oE 'reason=~?"[^"]*"' "$rules" | sed -E 's/^reason=~?"//; s/"$//' | tr '|' '\n'
  sed -n 's/^# not-alerted-reasons://p' "$rules" | tr ' ,' '\n\n'
} | grep -v '^$' | sort -u)
missing_reasons=$(comm -23 <(printf '%s\n' "$reasons") <(printf '%s\n' "$alerted"))
[ -z "$missing_reasons" ] ||
  fail "$rules: no rule matches tradecloud_webhook_rejected_total reason(s) $(echo $missing_reasons) counted in src/receiver: add them to a rule's reason selector, or to the \"# not-alerted-reasons:\" line if nobody needs to act on them"
echo "$(echo "$reasons" | wc -l) reasons, each alerted on or named as not alerted"

echo "== promtool check rules, promtool test rules =="
promtool check rules deploy/prometheus/tradecloud-alerts.yml
(cd deploy/prometheus && promtool test rules tradecloud-alerts.test.yml)
