#!/usr/bin/env bash
# Post-deploy health check of the monitoring host, run by `pulumi up` (components/deploy-verification.ts) through
# SSM Run Command or ssh, and by on-call by hand: `sudo /usr/local/lib/monitoring-host/monitoring-health`.
#
#   monitoring-health [--expect-etag ETAG] [--timeout SECONDS]
#
# 1. waits for cloud-init to finish (first boot);
# 2. with --expect-etag: starts a sync now and waits until the host has applied exactly that config bundle;
# 3. checks every service's health endpoint (the applied bundle's `healthChecks`), retrying until the deadline;
# 4. checks that Prometheus loaded every rule file in its rules directory without errors.
# On failure it names the service and prints its status and the tail of its journal, then exits 1.
set -uo pipefail

CONFIG_ROOT=${MONHOST_CONFIG_ROOT:-/etc/monitoring-host}
STATE_DIR=${MONHOST_STATE_DIR:-/var/lib/monitoring-host}
RULES_DIR=${MONHOST_RULES_DIR:-/etc/prometheus/rules}
PROMETHEUS_URL=${MONHOST_PROMETHEUS_URL:-http://127.0.0.1:9090}
SYNC_UNIT=${MONHOST_SYNC_UNIT:-monitoring-sync.service}
APPLIED="$CONFIG_ROOT/bundle.json"

expect_etag=""
timeout=600
while [ $# -gt 0 ]; do
  case "$1" in
    --expect-etag) expect_etag=${2:-}; shift 2 ;;
    --timeout) timeout=${2:-}; shift 2 ;;
    *) echo "usage: $0 [--expect-etag ETAG] [--timeout SECONDS]" >&2; exit 2 ;;
  esac
done
case "$timeout" in '' | *[!0-9]*) echo "--timeout takes whole seconds" >&2; exit 2 ;; esac
started=$(date +%s)
deadline=$((started + timeout))
failures=0

say() { printf '%s\n' "$*"; }
remaining() { local left=$((deadline - $(date +%s))); [ "$left" -gt 0 ] && echo "$left" || echo 0; }

explain_unit() {
  local unit=$1
  say "----- systemctl status $unit"
  systemctl status "$unit" --no-pager --lines=0 2>&1 | head -n 15
  say "----- journalctl -u $unit (last 40 lines)"
  journalctl -u "$unit" -n 40 --no-pager 2>&1
  say "-----"
}

fail() {
  failures=$((failures + 1))
  say "FAILED: $*"
}

# 1. cloud-init (first boot installs everything).
if command -v cloud-init >/dev/null 2>&1; then
  if ! timeout "$(remaining)" cloud-init status --wait >/dev/null 2>&1; then
    fail "cloud-init did not finish successfully: $(cloud-init status 2>&1 | tr '\n' ' ')"
    say "----- tail of /var/log/cloud-init-output.log"
    tail -n 40 /var/log/cloud-init-output.log 2>&1
    exit 1
  fi
  say "ok: cloud-init finished"
fi

# 2. The expected config bundle is applied (S3 ETags are quoted; compare without quotes).
if [ -n "$expect_etag" ]; then
  want=${expect_etag//\"/}
  systemctl start --no-block "$SYNC_UNIT" >/dev/null 2>&1 || true
  applied=""
  while :; do
    applied=$(tr -d '"' <"$STATE_DIR/applied-etag" 2>/dev/null || true)
    [ "$applied" = "$want" ] && break
    # The apply step lists the units that did not restart (first line: the bundle's ETag). A failure of this
    # bundle recorded since this check began (the sync started above re-runs the apply) needs no more waiting.
    if [ "$(stat -c %Y "$STATE_DIR/apply-failed" 2>/dev/null || echo 0)" -ge "$started" ] &&
      [ "$(head -n 1 "$STATE_DIR/apply-failed" 2>/dev/null | tr -d '"')" = "$want" ]; then
      fail "config bundle $want was not applied: $(tail -n +2 "$STATE_DIR/apply-failed" | tr '\n' ' ')did not reload/restart and stay up"
      while read -r unit; do
        [ -n "$unit" ] && explain_unit "$unit"
      done < <(tail -n +2 "$STATE_DIR/apply-failed")
      explain_unit monitoring-apply.service
      exit 1
    fi
    if [ "$(remaining)" -eq 0 ]; then
      fail "config bundle $want was not applied in ${timeout}s (applied: ${applied:-none})"
      explain_unit "$SYNC_UNIT"
      explain_unit monitoring-apply.service
      exit 1
    fi
    sleep 3
  done
  say "ok: config bundle $want applied"
fi

# 3. Health endpoints.
[ -r "$APPLIED" ] || { say "FAILED: $APPLIED is missing: the config bundle was never applied"; exit 1; }
while IFS=$'\t' read -r name unit url; do
  [ -n "$name" ] || continue
  until code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url") && [ "$code" = 200 ]; do
    if [ "$(remaining)" -eq 0 ]; then
      fail "$name is not healthy: $url answered ${code:-nothing}"
      explain_unit "$unit"
      continue 2
    fi
    sleep 2
  done
  say "ok: $name ($url)"
done < <(jq -r '.healthChecks[] | [.name, .unit, .url] | @tsv' "$APPLIED")

# 4. Prometheus loaded every rule file, and no rule reports an error.
rules_json=$(curl -s --max-time 5 "$PROMETHEUS_URL/api/v1/rules" || true)
shopt -s nullglob
expected=("$RULES_DIR"/*.yml)
if ! jq -e '.data.groups | type == "array"' >/dev/null 2>&1 <<<"$rules_json"; then
  fail "prometheus rules: Prometheus /api/v1/rules did not answer with JSON"
  explain_unit prometheus.service
elif report=$(jq -r '
    [.data.groups[].file] as $loaded
    | ($ARGS.positional[] | select(. as $f | $loaded | index($f) | not) | "rule file not loaded: \(.)"),
      (.data.groups[] | .name as $g | .rules[]? | select(.health == "err") | "rule error: \($g)/\(.name): \(.lastError)")' \
    --args "${expected[@]}" <<<"$rules_json") && [ -n "$report" ]; then
  fail "prometheus rules: $report"
  explain_unit prometheus.service
else
  say "ok: prometheus rules: ${#expected[@]} rule files, $(jq '[.data.groups[].rules | length] | add // 0' <<<"$rules_json") rules loaded"
fi

if [ "$failures" -gt 0 ]; then
  say "monitoring host is NOT healthy: $failures check(s) failed"
  exit 1
fi
say "monitoring host is healthy"
